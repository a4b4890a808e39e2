"""Counterfactual explanations: the fewest, cheapest feasible changes to a firm's indicators that
reach a better grade or an approval under the model ("what would it take")."""
