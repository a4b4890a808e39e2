"""Reject inference on a synthetic portfolio whose declined applicants' true PD and outcomes are known
(docs/reject-inference.md, issue #30).

The bank's past policy (configs/history.yaml: the expert scorecard's cut-off and knock-outs)
declined about a third of the applicants; their outcomes are missing from the data and kept in the
truth. For each method, a LightGBM (configured parameters, no search) is fitted on the training
years' accepts (and, by the method, rejects) and judged on the test year's applicants: AUC against
every applicant's true outcome, and mean model PD / mean true PD on all applicants and on the ones
the past policy declined.
Run: .venv/bin/python benchmarks/reject_inference.py [--n-firms 100000] [--seed 42]
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.metrics import roc_auc_score

from innoscore.features.catalogue import load_catalogue
from innoscore.features.history import BOOKED_COLUMN, OUTCOME_PREFIX, HistoryPolicy, with_history
from innoscore.features.synthetic import generate_portfolio
from innoscore.model.config import TrainingConfig
from innoscore.model.estimators.lightgbm_pd import LightGBMPD
from innoscore.model.estimators.reject_inference import METHODS, augmented_training_set


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-firms", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--parcel-factors", default="1.25,1.5,2.0", help="parcelling's factors to compare")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    cat, cfg = load_catalogue(), TrainingConfig.load()
    portfolio = with_history(generate_portfolio(args.n_firms, seed=args.seed, catalogue=cat), cat, HistoryPolicy.load())
    data, truth = portfolio.data, portfolio.true_contributions
    target = cat.dataset.target_column
    year = data[cat.dataset.date_column].dt.year
    train, valid, test = (year <= year.max() - 2).to_numpy(), (year == year.max() - 1).to_numpy(), \
        (year == year.max()).to_numpy()
    booked = data[BOOKED_COLUMN].to_numpy(bool)
    outcome, true_pd = truth[OUTCOME_PREFIX].to_numpy(float), data[cat.dataset.truth_column].to_numpy(float)
    lg = cfg.lightgbm

    def model() -> LightGBMPD:
        return LightGBMPD(cat, cfg.features, params=lg.params, learning_rate=lg.learning_rate,
                          num_threads=lg.num_threads, seed=cfg.seed)

    acc, rej, val = data[train & booked], data[train & ~booked], data[valid & booked]
    y_acc, y_val = data.loc[train & booked, target].to_numpy(float), data.loc[valid & booked, target].to_numpy(float)
    accepts_only = model().fit(acc, y_acc, eval_set=(val, y_val))
    history = model().fit(data[train], booked[train].astype(float))          # P(booked | x), for reweighting
    declined = ~booked[test]
    print(f"{args.n_firms:,} applicants, seed {args.seed}; declined by the past policy: {1 - booked.mean():.1%}; "
          f"test year {test.sum():,} applicants ({declined.sum():,} declined)")
    print(f"{'method':<16} {'AUC all':>8} {'AUC booked':>10} {'PD/true all':>11} {'PD/true declined':>16} "
          f"{'PD/true booked':>14} {'fit s':>6}")
    rows = data[test]
    factors = [float(f) for f in args.parcel_factors.split(",")]
    runs = [(m, 1.5) for m in METHODS if m != "parcelling"] + [("parcelling", f) for f in factors]
    for method, factor in runs:
        t0 = time.perf_counter()
        aug = augmented_training_set(method, acc, y_acc, rej, accepts_only.predict_pd, history.predict_pd,
                                     seed=args.seed, parcel_factor=factor)
        fitted = accepts_only if method == "none" else model().fit(aug.rows, aug.y, eval_set=(val, y_val),
                                                                      sample_weight=aug.weight)
        seconds = time.perf_counter() - t0
        p = fitted.predict_pd(rows)
        y, t = outcome[test], true_pd[test]
        name = f"{method} x{factor:g}" if method == "parcelling" else method
        print(f"{name:<16} {roc_auc_score(y, p):8.4f} {roc_auc_score(y[~declined], p[~declined]):10.4f} "
              f"{p.mean() / t.mean():11.3f} {p[declined].mean() / t[declined].mean():16.3f} "
              f"{p[~declined].mean() / t[~declined].mean():14.3f} {seconds:6.1f}")


if __name__ == "__main__":
    main()
