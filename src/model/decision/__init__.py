"""The credit decision on the scored-firm record: policy as data, decisions, limits, what-if."""
