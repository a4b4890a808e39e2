"""Reject inference where the declined applicants' outcomes are known (docs/reject-inference.md, issue #30).

- `synthetic`: the bank's past policy (configs/history.yaml: the expert scorecard's cut-off and
  knock-outs) declined about a third of the applicants; their outcomes are missing from the data and
  kept in the truth. Training years' accepts (and, by the method, rejects) -> the test year's
  applicants, judged against every applicant's true outcome and true PD.
- `german_credit`: a simulated decline rule (the past scorecard: a logistic regression on the
  checking account, duration and credit history declines the riskiest 30%); five folds, each fold's
  applicants scored by a model of the other folds' accepts, judged against every outcome.

For each method, a LightGBM (configured parameters, no search): AUC on all applicants and on the
booked ones, mean PD over the truth (synthetic: true PD; German credit: the observed bad rate) on all,
declined and booked applicants, and the kickout against the accepts-only model, as a bank computes
it (outcomes of booked applicants only) and with every outcome (what it would be with full labels).
Run: .venv/bin/python benchmarks/reject_inference.py [--dataset synthetic|german_credit] [--n-firms 100000]
"""
from __future__ import annotations

import argparse
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from innoscore.features.catalogue import Catalogue, load_catalogue
from innoscore.model.config import TrainingConfig
from innoscore.model.estimators.lightgbm_pd import LightGBMPD
from innoscore.model.estimators.reject_inference import METHODS, augmented_training_set
from innoscore.model.evaluation.kickout import kickout
from innoscore.model.training import fit_and_evaluate

DECLINE_SHARE = 0.3


@dataclass
class Window:
    """One fit: training accepts and rejects, early-stopping accepts, and the scored applicants."""
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray


def synthetic(n_firms: int, seed: int):
    from innoscore.features.history import BOOKED_COLUMN, OUTCOME_PREFIX, HistoryPolicy, with_history
    from innoscore.features.synthetic import generate_portfolio

    cat = load_catalogue()
    portfolio = with_history(generate_portfolio(n_firms, seed=seed, catalogue=cat), cat, HistoryPolicy.load())
    data, truth = portfolio.data, portfolio.true_contributions
    year = data[cat.dataset.date_column].dt.year
    window = Window((year <= year.max() - 2).to_numpy(), (year == year.max() - 1).to_numpy(),
                    (year == year.max()).to_numpy())
    return (cat, data, data[BOOKED_COLUMN].to_numpy(bool), truth[OUTCOME_PREFIX].to_numpy(float),
            data[cat.dataset.truth_column].to_numpy(float), [window])


def german_credit(seed: int, k: int = 5):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import OneHotEncoder

    from innoscore.features.validation import read_table, validate_frame
    from innoscore.paths import CONFIG_DIR

    folder = CONFIG_DIR / "examples" / "german_credit"
    cat = load_catalogue(folder / "catalogue.yaml")
    data, report = validate_frame(read_table(folder / "german_credit.csv"), cat, require_target=True)
    assert report.ok, report.to_text()
    outcome = data[cat.dataset.target_column].to_numpy(float)
    past = ["status_of_existing_checking_account", "duration_in_month", "credit_history"]
    x = OneHotEncoder(handle_unknown="ignore").fit_transform(data[past].astype(str))
    risk = LogisticRegression(max_iter=2000).fit(x, outcome).predict_proba(x)[:, 1]
    booked = risk < np.quantile(risk, 1 - DECLINE_SHARE)
    folds = [test for _, test in StratifiedKFold(k, shuffle=True, random_state=seed).split(data, outcome)]
    windows = []
    for f in range(k):
        test, valid = np.isin(np.arange(len(data)), folds[f]), np.isin(np.arange(len(data)), folds[(f + 1) % k])
        windows.append(Window(~test & ~valid, valid, test))
    return cat, data, booked, outcome, None, windows


def compare(cat: Catalogue, data: pd.DataFrame, booked: np.ndarray, outcome: np.ndarray, true_pd, windows,
            factors: list[float], seed: int) -> pd.DataFrame:
    cfg = TrainingConfig.load()
    lg = cfg.lightgbm
    target = cat.dataset.target_column

    def model() -> LightGBMPD:
        return LightGBMPD(cat, cfg.features, params=lg.params, learning_rate=lg.learning_rate,
                          num_threads=lg.num_threads, seed=cfg.seed)

    runs = [(m, 1.5) for m in METHODS if m != "parcelling"] + [("parcelling", f) for f in factors]
    scored = {run: np.full(len(data), np.nan) for run in runs}
    seconds = dict.fromkeys(runs, 0.0)
    for w in windows:
        acc, rej, val = data[w.train & booked], data[w.train & ~booked], data[w.valid & booked]
        y_acc, y_val = outcome[w.train & booked], outcome[w.valid & booked]
        accepts_only = model().fit(acc, y_acc, eval_set=(val, y_val))
        history = model().fit(data[w.train], booked[w.train].astype(float))          # P(booked | x), reweighting
        for method, factor in runs:
            t0 = time.perf_counter()
            aug = augmented_training_set(method, acc, y_acc, rej, accepts_only.predict_pd, history.predict_pd,
                                         seed=seed, parcel_factor=factor)
            fitted = accepts_only if method == "none" else model().fit(aug.rows, aug.y, eval_set=(val, y_val),
                                                                          sample_weight=aug.weight)
            seconds[(method, factor)] += time.perf_counter() - t0
            scored[(method, factor)][w.test] = fitted.predict_pd(data[w.test])
    rows = np.zeros(len(data), dtype=bool)
    for w in windows:
        rows |= w.test
    y, ok, reference = outcome[rows], booked[rows], (true_pd if true_pd is not None else outcome)[rows]
    seen = np.where(ok, y, np.nan)                 # what a bank knows: outcomes of the booked applicants
    base = scored[("none", 1.5)][rows]
    table = []
    for (method, factor), p_all in scored.items():
        p = p_all[rows]
        table.append({
            "method": f"{method} x{factor:g}" if method == "parcelling" else method,
            "auc_all": roc_auc_score(y, p), "auc_booked": roc_auc_score(y[ok], p[ok]),
            "pd_over_truth_all": p.mean() / reference.mean(),
            "pd_over_truth_declined": p[~ok].mean() / reference[~ok].mean(),
            "pd_over_truth_booked": p[ok].mean() / reference[ok].mean(),
            "kickout_booked_outcomes": kickout(base, p, seen, booked.mean()) if method != "none" else 0.0,
            "kickout_all_outcomes": kickout(base, p, y, booked.mean()) if method != "none" else 0.0,
            "fit_s": seconds[(method, factor)]})
    return pd.DataFrame(table).set_index("method")


def pipeline(n_firms: int, seed: int, methods: list[str]) -> pd.DataFrame:
    """The same measures for the whole training pipeline (`fit_and_evaluate`: the configured search,
    calibration, time split) on the synthetic portfolio, method by method."""
    from innoscore.features.history import validated_applicants

    cat, data, booked, outcome, true_pd, (w,) = synthetic(n_firms, seed)
    accepts, rejects, report = validated_applicants(data, cat, require_target=True)
    assert report.ok, report.to_text()
    cfg, test = TrainingConfig.load(), w.test
    rows, y, t, declined = data[test], outcome[test], true_pd[test], ~booked[test]
    table = []
    for method in methods:
        t0 = time.perf_counter()
        result = fit_and_evaluate(accepts, cat, cfg.with_reject_inference(method), rejects=rejects)
        p = result.models["lightgbm"].predict_pd(rows)
        table.append({"method": method, "auc_all": roc_auc_score(y, p),
                      "auc_booked": roc_auc_score(y[~declined], p[~declined]), "pd_over_truth_all": p.mean() / t.mean(),
                      "pd_over_truth_declined": p[declined].mean() / t[declined].mean(),
                      "pd_over_truth_booked": p[~declined].mean() / t[~declined].mean(),
                      "kickout_train": result.reject_inference.get("kickout", 0.0), "fit_s": time.perf_counter() - t0})
    return pd.DataFrame(table).set_index("method")


def show(table: pd.DataFrame) -> None:
    with pd.option_context("display.width", 250, "display.max_columns", 20, "display.float_format", "{:.4f}".format):
        print(table)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", choices=["synthetic", "german_credit"], default="synthetic")
    parser.add_argument("--n-firms", type=int, default=100_000, help="synthetic only")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--parcel-factors", default="1.25,1.5,2.0", help="parcelling's factors to compare")
    parser.add_argument("--pipeline", default="", help="synthetic: methods to run through the whole training "
                        "pipeline (search, calibration) instead, e.g. none,parcelling")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.pipeline:
        show(pipeline(args.n_firms, args.seed, args.pipeline.split(",")))
        return
    if args.dataset == "synthetic":
        cat, data, booked, outcome, true_pd, windows = synthetic(args.n_firms, args.seed)
        truth = "true PD"
    else:
        cat, data, booked, outcome, true_pd, windows = german_credit(args.seed)
        truth = "observed bad rate"
    scored = np.logical_or.reduce([w.test for w in windows])
    print(f"{args.dataset}: {len(data):,} applicants, seed {args.seed}; declined by the past policy "
          f"{1 - booked.mean():.1%}; scored {scored.sum():,} ({(scored & ~booked).sum():,} declined); "
          f"mean PD over the {truth}; kickout at {booked.mean():.0%} accepted")
    show(compare(cat, data, booked, outcome, true_pd, windows, [float(f) for f in args.parcel_factors.split(",")],
                 args.seed))


if __name__ == "__main__":
    main()
