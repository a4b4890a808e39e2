"""How true the explanations are, on a synthetic portfolio whose per-category log-odds are known
(docs/models.md, issue #26).

The default pipeline (`fit_and_evaluate`, default config, out-of-time split) explains its test
year; its category contributions are compared with the generator's truth. Beside it, the ceilings:
a LightGBM that sees the four true category log-odds themselves (what outcome noise alone allows)
and one fitted to the true log-odds from the catalogue's features (what the features and SHAP
allow without outcome noise); and the SHAP value function on the same 2,000 firms: TreeSHAP
(path-dependent, LightGBM's pred_contrib) against exact interventional Shapley values of the four
categories as players (v(S) = mean model output with S's indicators from the firm and the rest
from a background sample), with their cost.
Run: .venv/bin/python benchmarks/fidelity.py [--n-firms 100000] [--seed 42] \
       [--variants '{"rd_expense fed raw": {"features": {"size_normalised": []}}}']
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from itertools import combinations
from math import factorial

import lightgbm as lgb
import numpy as np
import pandas as pd
from ablation import variant
from sklearn.metrics import roc_auc_score

from innoscore.features.catalogue import load_catalogue
from innoscore.features.synthetic import TRUTH_PREFIX, generate_portfolio
from innoscore.model.config import TrainingConfig
from innoscore.model.explanation.fidelity import explanation_fidelity
from innoscore.model.training import fit_and_evaluate


def category_figures(shap_cat: np.ndarray, true_cat: np.ndarray, lead: float = 0.2) -> dict:
    """Top risk-raising category match (all; where the true top leads by > `lead`) and correlations."""
    match = shap_cat.argmax(axis=1) == true_cat.argmax(axis=1)
    top2 = np.sort(true_cat, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > lead
    return {"top": match.mean(), "clear": match[clear].mean(),
            **{f"r_{k}": np.corrcoef(shap_cat[:, k], true_cat[:, k])[0, 1] for k in range(true_cat.shape[1])}}


def category_shapley(model, rows: pd.DataFrame, background: pd.DataFrame, groups: list[list[str]]) -> np.ndarray:
    """Exact interventional Shapley values of indicator groups (rows x groups), in raw log-odds."""
    k, n, nb = len(groups), len(rows), len(background)
    firm = rows.iloc[np.repeat(np.arange(n), nb)].reset_index(drop=True)
    value = {}
    for size in range(k + 1):
        for coalition in combinations(range(k), size):
            mixed = background.iloc[np.tile(np.arange(nb), n)].reset_index(drop=True)
            for g in coalition:
                mixed[groups[g]] = firm[groups[g]]
            value[coalition] = model.decision_function(mixed).reshape(n, nb).mean(axis=1)
    phi = np.zeros((n, k))
    for i in range(k):
        others = [j for j in range(k) if j != i]
        for size in range(k):
            for coalition in combinations(others, size):
                weight = factorial(size) * factorial(k - size - 1) / factorial(k)
                phi[:, i] += weight * (value[tuple(sorted(coalition + (i,)))] - value[coalition])
    return phi


def ceilings(data, truth, y, split, model, config) -> dict:
    """Figures of models that see the truth's drivers (test window)."""
    true_cat = truth.to_numpy()
    params = {"objective": "binary", "learning_rate": config.lightgbm.learning_rate, "verbosity": -1,
              "num_threads": 2, "seed": config.seed, **config.lightgbm.params}
    stop = [lgb.early_stopping(100, verbose=False)]
    on_truth = lgb.train({**params, "monotone_constraints": [1] * true_cat.shape[1]},
                         lgb.Dataset(true_cat[split.train], y[split.train]), 3000,
                         valid_sets=[lgb.Dataset(true_cat[split.valid], y[split.valid])], callbacks=stop)
    out = {"LightGBM on the true category log-odds (outcomes)": category_figures(
        on_truth.predict(true_cat[split.test], pred_contrib=True)[:, :-1], true_cat[split.test])}
    features = model.feature_set_
    X = features.transform_array(data)
    logit = true_cat.sum(axis=1)
    to_truth = lgb.train({**params, "objective": "regression", "monotone_constraints": features.monotone_constraints},
                         lgb.Dataset(X[split.train], logit[split.train]), 3000,
                         valid_sets=[lgb.Dataset(X[split.valid], logit[split.valid])], callbacks=stop)
    contrib = to_truth.predict(X[split.test], pred_contrib=True)[:, :-1]
    from innoscore.model.explanation.contributions import fold_to_categories, fold_to_indicators

    indicators = fold_to_indicators(contrib, features, features.derive(data[split.test]), model.source_reference_)
    out["LightGBM fitted to the true log-odds (catalogue features, no outcome noise)"] = category_figures(
        fold_to_categories(indicators, model.catalogue), true_cat[split.test])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-firms", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--value-function-firms", type=int, default=2000)
    parser.add_argument("--background", type=int, default=100)
    parser.add_argument("--variants", default="{}", help="JSON: name -> override of training.yaml sections")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    catalogue, config = load_catalogue(), TrainingConfig.load()
    portfolio = generate_portfolio(args.n_firms, seed=args.seed, catalogue=catalogue)
    data = portfolio.data
    cats = catalogue.category_ids
    truth = portfolio.true_contributions[[f"{TRUTH_PREFIX}{c}" for c in cats]]
    y = data[catalogue.dataset.target_column].to_numpy().astype(int)
    print(f"{args.n_firms:,} synthetic firms, seed {args.seed}; figures on the test window")
    print(f"{'model':<72} {'AUC':>6} {'top':>6} {'lead>0.2':>8} " + " ".join(f"{'r ' + c:>6}" for c in cats)
          + f" {'best-value':>10}")
    main_model = None
    for name, override in {"default config": {}, **json.loads(args.variants)}.items():
        result = fit_and_evaluate(data, catalogue, variant(config, override))
        model, split = result.scoring_models["lightgbm"], result.split
        rows = data[split.test].reset_index(drop=True)
        expl = model.explain(rows)
        f = explanation_fidelity(expl, truth[split.test].reset_index(drop=True).set_axis(
            [f"{TRUTH_PREFIX}{c}" for c in cats], axis=1), catalogue, model.peer_quantiles)
        auc = roc_auc_score(y[split.test], expl.pd)
        print(f"{name:<72} {auc:6.4f} {f['top_category_match']:6.3f} {f['top_category_match_clear_lead']:8.3f} "
              + " ".join(f"{f[f'category_{c}_correlation']:6.3f}" for c in cats) + f" {int(f['best_value_raising']):>10}")
        main_model = main_model or (model, split, rows, expl)
    model, split, rows, expl = main_model
    for name, fig in ceilings(data, truth, y, split, model.estimator, config).items():
        print(f"{name:<72} {'':>6} {fig['top']:6.3f} {fig['clear']:8.3f} "
              + " ".join(f"{fig[f'r_{k}']:6.3f}" for k in range(len(cats))))
    n = args.value_function_firms
    sub = rows.sample(n, random_state=args.seed)
    true_sub = truth[split.test].reset_index(drop=True).loc[sub.index].to_numpy()
    background = data[split.train].sample(args.background, random_state=args.seed)
    t0 = time.perf_counter()
    path = model.explain(sub).categories[cats].to_numpy()
    t_path = time.perf_counter() - t0
    t0 = time.perf_counter()
    groups = [[i.id for i in catalogue.indicators_in(c)] for c in cats]
    inter = category_shapley(model.estimator, sub, background, groups)
    t_inter = time.perf_counter() - t0
    print(f"\nSHAP value function, the same {n:,} test firms (background {args.background} training firms)")
    for name, values, seconds in (("TreeSHAP path-dependent (pred_contrib), folded", path, t_path),
                                  ("exact interventional Shapley of the categories", inter, t_inter)):
        fig = category_figures(values, true_sub)
        print(f"{name:<60} top {fig['top']:.3f} lead>0.2 {fig['clear']:.3f} "
              + " ".join(f"r {c} {fig[f'r_{k}']:.3f}" for k, c in enumerate(cats)) + f"  {1000 * seconds / n:8.2f} ms/firm")


if __name__ == "__main__":
    main()
