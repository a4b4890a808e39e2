"""The credit decision's cost: deciding on top of scoring (ratio against scoring alone, same run), and
the policy what-if over 100k firms with a 20-step sweep of the tech-innovation share.

Run: .venv/bin/python benchmarks/decision.py [--n-firms 100000]
"""
from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path


def best(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-firms", type=int, default=100_000)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from innoscore.features.catalogue import load_catalogue
    from innoscore.features.synthetic import generate_portfolio
    from innoscore.features.validation import validate_frame
    from innoscore.model.config import TrainingConfig
    from innoscore.model.decision.policy import load_policy
    from innoscore.model.decision.what_if import Portfolio, what_if
    from innoscore.model.estimators.lightgbm_pd import LightGBMPD
    from innoscore.model.scoring.batch import score_file_local
    from innoscore.model.scoring.interface import ScoringModel
    from innoscore.model.scoring.record import scored_firms

    cat, cfg = load_catalogue(), TrainingConfig.load()
    policy = load_policy(catalogue=cat)
    data, _ = validate_frame(generate_portfolio(args.n_firms + 40_000, seed=7, catalogue=cat).data, cat,
                             require_target=True)
    train, book = data.iloc[:40_000], data.iloc[40_000:].reset_index(drop=True)
    y = train["default_12m"].to_numpy()
    lg = cfg.lightgbm
    est = LightGBMPD(cat, cfg.features, params=lg.params, learning_rate=lg.learning_rate, seed=cfg.seed).fit(
        train.iloc[:30_000], y[:30_000], eval_set=(train.iloc[30_000:], y[30_000:]))
    model = ScoringModel(est, cat, cfg.grade_scale, "lightgbm")
    scores = model.score(book)
    plain = best(lambda: scored_firms(book, model.score(book), model))
    decided = best(lambda: scored_firms(book, model.score(book), model, policy=policy))
    print(f"{len(book):,} firms in memory: record {plain:.2f} s, record + decision {decided:.2f} s: "
          f"deciding adds {100 * (decided / plain - 1):.1f}%")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "book.parquet"
        book.to_parquet(source)
        batch = best(lambda: score_file_local(source, Path(tmp) / "a.parquet", model), 2)
        batch_decided = best(lambda: score_file_local(source, Path(tmp) / "b.parquet", model, policy=policy), 2)
    print(f"batch scoring of {len(book):,} firms (read, validate, score, write): {batch:.2f} s, with the decision "
          f"{batch_decided:.2f} s: deciding adds {100 * (batch_decided / batch - 1):.1f}%")
    import numpy as np
    import pandas as pd

    from innoscore.model.decision.pricing import price

    records = scored_firms(book, scores, model, policy=policy)
    lgd = np.array([policy.limits.guarantees[g].lgd for g in records["guarantee"].astype(str)])
    limit = records["limit"].to_numpy()

    def numbers(rows, column):
        return np.asarray(pd.to_numeric(rows[column], errors="coerce"), dtype=float) if column in rows else \
            np.full(len(rows), np.nan)

    pricing = best(lambda: price(scores.pd, lgd, limit, book, policy.pricing, numbers), 5)
    print(f"pricing {len(book):,} loans (part of the decision): {pricing:.3f} s, {100 * pricing / batch_decided:.1f}% "
          f"of batch scoring with the decision, {100 * pricing / decided:.1f}% of the in-memory record + decision")
    from innoscore.features.firm_columns import FirmColumns
    from innoscore.model.scoring.record import record_dicts
    from innoscore.model.scoring.score import score_request

    one = book.head(1)
    request = FirmColumns({c: one[c].to_numpy() for c in one.columns})
    record = [dict(zip(one.columns, one.iloc[0].tolist()))]
    loan = policy.loan_field_types(cat)
    scored_one = best(lambda: record_dicts(score_request(record, model, policy, loan)[1]), 200)    # /score's in-process path
    priced_one = best(lambda: price(scores.pd[:1], lgd[:1], limit[:1], request, policy.pricing, numbers), 200)
    print(f"one firm: scoring with the decision {1e6 * scored_one:.0f} us, of which pricing {1e6 * priced_one:.0f} us "
          f"({100 * priced_one / scored_one:.1f}%)")
    portfolio = Portfolio(scores.pd, scores.expert, book, book["default_12m"].to_numpy(float),
                          book["true_pd"].to_numpy(float))
    proposed = policy.with_overrides({"tech_innovation_weight": 0.4})
    t0 = time.perf_counter()
    result = what_if(portfolio, cat, policy, proposed, steps=20)
    print(f"what-if over {len(book):,} firms with a 20-step sweep: {time.perf_counter() - t0:.1f} s "
          f"(approval {result['current']['approval_rate']:.1%} -> {result['proposed']['approval_rate']:.1%})")
    print("expected vs true default rate of the approved book: "
          + ", ".join(f"{s} {result[s]['expected_default_rate']:.3%} vs {result[s]['true_default_rate']:.3%}"
                      for s in ("current", "proposed")))


if __name__ == "__main__":
    main()
