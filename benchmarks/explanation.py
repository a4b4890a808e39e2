"""Explanation speed: explanations per second for 1 firm and for 10k firms, shap.TreeExplainer vs
LightGBM's own pred_contrib (identical values), plus the full path (features, SHAP, folding, reasons).

One process, one model (the configured LightGBM parameters, trained on 50k synthetic firms), so the
ratios compare like with like. Run: .venv/bin/python benchmarks/explanation.py
"""
from __future__ import annotations

import time
import warnings

import numpy as np

from innoscore.features.catalogue import load_catalogue
from innoscore.features.derive import FeatureSet
from innoscore.features.synthetic import generate_portfolio
from innoscore.model.config import TrainingConfig
from innoscore.model.estimators.lightgbm_pd import LightGBMPD
from innoscore.model.explanation.contributions import explain, feature_contributions
from innoscore.model.explanation.reasons import firm_reasons


def best_rate(fn, n_rows: int, repeats: int) -> float:
    """Rows per second from the fastest of `repeats` runs (the least disturbed by other load)."""
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n_rows / best


def main() -> None:
    warnings.filterwarnings("ignore")
    cat, cfg = load_catalogue(), TrainingConfig.load()
    data = generate_portfolio(60_000, seed=3, catalogue=cat).data
    y = data["default_12m"].to_numpy()
    lg = cfg.lightgbm
    model = LightGBMPD(cat, cfg.features, params=lg.params, learning_rate=lg.learning_rate,
                       num_threads=lg.num_threads, seed=cfg.seed).fit(data[:50_000], y[:50_000],
                                                                          eval_set=(data[50_000:], y[50_000:]))
    rows = data[50_000:].reset_index(drop=True)
    peers = FeatureSet(cat).indicator_values(data[:50_000]).quantile(np.linspace(0, 1, 101))
    print(f"model: {model.best_iteration_} trees, num_leaves {lg.params['num_leaves']}, "
          f"max_depth {lg.params['max_depth']}, {len(model.feature_set_.names)} features, "
          f"{lg.num_threads} threads")
    print(f"{'firms':>6} {'method':<28} {'firms/s':>10}")
    for n, repeats in ((1, 50), (10_000, 3)):
        batch = rows.head(n)
        feats = model.features(batch)
        rates = {
            "predict (floor)": best_rate(lambda: model.booster_.predict(feats, num_iteration=model.best_iteration_), n, repeats),
            "shap.TreeExplainer": best_rate(lambda: feature_contributions(model, feats, "shap"), n, repeats),
            "lightgbm pred_contrib": best_rate(lambda: feature_contributions(model, feats, "pred_contrib"), n, repeats),
            "full explain + reasons": best_rate(
                lambda: [firm_reasons(e, i, cat, peers) for e in [explain(model, batch)]
                         for i in range(min(n, 100))], n, repeats) if n == 1 else
            best_rate(lambda: explain(model, batch), n, repeats),
        }
        for name, rate in rates.items():
            print(f"{n:>6} {name:<28} {rate:>10,.0f}")
        print(f"{'':>6} pred_contrib / shap speed ratio: {rates['lightgbm pred_contrib'] / rates['shap.TreeExplainer']:.2f}x")


if __name__ == "__main__":
    main()
