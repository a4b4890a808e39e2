"""Counterfactuals: speed, validity, sparsity, cost and fidelity to the true PD, against DiCE (#16).

innoscore's search (`innoscore.model.counterfactual`) on firms rated below BBB of a fresh synthetic
portfolio, target grade BBB; then DiCE (dice-ml, random method; a benchmark only, not a dependency:
`uv pip install --no-deps dice-ml raiutils` to include it) on the first `--dice-firms` of them.
DiCE cannot take missing values, so it gets the firms with missing values filled by the training
medians; it has no feasible directions or steps, only the same features to vary and ranges.

Run: python benchmarks/counterfactual.py [--firms 200] [--dice-firms 30]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd


def pytest_round(value: float) -> float:
    """A value as float text writes it back (0.426 for 0.42600000000000005)."""
    return float(f"{value:.10g}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--firms", type=int, default=200)
    parser.add_argument("--dice-firms", type=int, default=30)
    parser.add_argument("--target", default="BBB")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    tmp = Path(tempfile.mkdtemp())
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
    import logging

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    from innoscore.features.catalogue import load_catalogue
    from innoscore.features.synthetic import generate_portfolio, true_log_odds_of_rows
    from innoscore.features.validation import validate_frame
    from innoscore.model.config import TrainingConfig
    from innoscore.model.counterfactual.search import CounterfactualSearch, Target
    from innoscore.model.scoring.score import score_frame
    from innoscore.model.tracking.registry import load_pd_model
    from innoscore.model.training import train_models

    cat = load_catalogue()
    train = generate_portfolio(30_000, seed=1, catalogue=cat).data
    result = train_models(train, cat, TrainingConfig.load().with_search_trials(0), experiment="bench")
    name, version = result.versions["lightgbm"]
    model, _ = load_pd_model(f"models:/{name}/{version}")
    rows, _ = validate_frame(generate_portfolio(20_000, seed=77, catalogue=cat).data, cat)
    scored = score_frame(rows, model, validate=False)
    labels = model.grade_scale.labels
    worse = scored["grade"].astype(str).map(labels.index) > labels.index(args.target)
    firms = rows[worse.to_numpy()].head(args.firms).reset_index(drop=True)
    target = Target(grade=args.target)
    bound = {g.grade: g.pd_max for g in model.grade_scale.grades}[args.target]

    search = CounterfactualSearch(model)
    search.explain(firms.head(3), target)                       # warm-up
    times, found = [], []
    for i in range(len(firms)):
        t0 = time.perf_counter()
        found.extend(search.explain(firms.iloc[[i]], target))
        times.append(time.perf_counter() - t0)
    alternatives = [(i, a) for i, cf in enumerate(found) for a in cf.alternatives]
    changed = []
    for i, a in alternatives:
        row = firms.iloc[[i]].copy()
        for c in a.changes:
            row[c.indicator] = c.to
        changed.append(row)
    changed = pd.concat(changed, ignore_index=True)
    id_col = cat.dataset.firm_id_column
    changed[id_col] = [f"{firm}#{k}" for k, firm in enumerate(changed[id_col])]     # one row per alternative
    valid = score_frame(changed, model)["pd"].to_numpy() <= bound
    originals = firms.iloc[[i for i, _ in alternatives]].reset_index(drop=True)
    both = pd.concat([originals, changed], ignore_index=True)
    truth = true_log_odds_of_rows(both)
    lowered = truth[len(originals):] < truth[: len(originals)]
    raised = truth[len(originals):] > truth[: len(originals)] + 1e-12
    from innoscore.model.explanation.reasons import format_value

    def shown(ind, value: float) -> float:          # the number a reader sees, read back
        if ind.type in ("ordinal", "boolean"):
            return value                                # a level's label: the level itself
        text = format_value(ind, value, "en").replace(",", "").replace(ind.unit.en, "").strip()
        return pytest_round(float(text.rstrip("%")) / 100) if text.endswith("%") else float(text)

    moves = [(cat.by_id[c.indicator], c.to) for _, a in alternatives for c in a.changes]
    as_shown = sum(shown(ind, v) == pytest_round(v) for ind, v in moves)
    linked = changed[[any(c.indicator == "rd_expense" for c in a.changes) for _, a in alternatives]]
    gap = (linked["rd_intensity"] - linked["rd_expense"] / linked["revenue"]).abs() / linked["rd_intensity"]
    firsts = [cf.alternatives[0] for cf in found if cf.alternatives]
    print(f"innoscore: {len(firms)} firms rated below {args.target}, target {args.target}")
    print(f"  time per firm: median {1000 * np.median(times):.1f} ms, p90 {1000 * np.percentile(times, 90):.1f} ms "
          f"(target: median < 50)")
    print(f"  found for {sum(cf.status == 'found' for cf in found)} firms, none feasible for "
          f"{sum(cf.status == 'not_found' for cf in found)}; {len(alternatives)} alternatives")
    print(f"  validity (re-scored): {valid.mean():.1%}")
    print(f"  best alternative: mean changes {np.mean([len(a.changes) for a in firsts]):.2f}, "
          f"mean cost {np.mean([a.cost for a in firsts]):.2f}")
    print(f"  values shown = values scored: {as_shown} of {len(moves)} changes")
    print(f"  fidelity: {lowered.mean():.1%} of alternatives also lower the true PD; {int(raised.sum())} raise it")
    print(f"  after a change of R&D expense ({len(linked)} alternatives): R&D intensity vs R&D expense / revenue, "
          f"largest gap {100 * (gap.max() if len(gap) else 0):.2f}%")
    print(f"  non-monotone indicators moved without a declared direction: "
          f"{sum(ind.direction.value == 'non_monotone' and ind.action.direction is None for ind, _ in moves)}")

    try:
        import dice_ml
    except ImportError:
        print("\nDiCE not installed (uv pip install --no-deps dice-ml raiutils): baseline skipped")
        return
    ids = cat.indicator_ids
    medians = train[ids].median()
    actionable = [i for i in ids if cat.by_id[i].feasible_direction]
    data = train[ids].fillna(medians).assign(default=train[cat.dataset.target_column].to_numpy())

    class Wrapped:
        def predict_proba(self, frame):
            p = model.predict_pd(frame[ids].astype(float))
            return np.column_stack([1 - p, p])

        def predict(self, frame):
            return (self.predict_proba(frame)[:, 1] > 0.5).astype(int)

    ranges = {i: [float(search.spaces_[i].low), float(search.spaces_[i].high)] for i in actionable}
    explainer = dice_ml.Dice(dice_ml.Data(dataframe=data, continuous_features=ids, outcome_name="default"),
                             dice_ml.Model(model=Wrapped(), backend="sklearn"), method="random")
    d_times, d_valid, d_changes, d_cost, d_wrong_way, d_found = [], [], [], [], [], 0
    for i in range(min(args.dice_firms, len(firms))):
        query = firms.iloc[[i]][ids].astype(float).fillna(medians)
        t0 = time.perf_counter()
        try:
            out = explainer.generate_counterfactuals(query, total_CFs=3, desired_class=0, features_to_vary=actionable,
                                                     permitted_range=ranges, stopping_threshold=1 - bound,
                                                     random_seed=i, verbose=False)
            cfs = out.cf_examples_list[0].final_cfs_df
        except Exception:       # DiCE raises when it finds nothing
            cfs = None
        d_times.append(time.perf_counter() - t0)
        if cfs is None or cfs.empty:
            continue
        d_found += 1
        cfs = cfs[ids].astype(float)
        p = model.predict_pd(cfs)
        d_valid.extend(p <= bound)
        q = query.iloc[0]
        for _, cf in cfs.iterrows():
            moved = [j for j in ids if not np.isclose(cf[j], q[j])]
            d_changes.append(len(moved))
            d_cost.append(sum(float(search.spaces_[j].cost(q[j], cf[j])) for j in moved if j in search.spaces_))
            d_wrong_way.append(sum(1 for j in moved if j in search.spaces_ and (
                (cat.by_id[j].feasible_direction == "increase" and cf[j] < q[j])
                or (cat.by_id[j].feasible_direction == "decrease" and cf[j] > q[j])
                or (search.spaces_[j].step and not float(cf[j]).is_integer()))))
    n = min(args.dice_firms, len(firms))
    ours = [cf for cf in found[:n]]
    our_alts = [a for cf in ours for a in cf.alternatives]
    print(f"\nDiCE (random) on the first {n} of these firms, 3 counterfactuals each:")
    print(f"  time per firm: median {1000 * np.median(d_times):.0f} ms")
    print(f"  found for {d_found} firms; validity {np.mean(d_valid):.1%}" if d_valid else "  found none")
    if d_changes:
        ok = np.asarray(d_valid, bool)
        print(f"  mean changes {np.mean(d_changes):.2f}, mean cost {np.mean(d_cost):.2f}, "
              f"changes against direction or step: {np.sum(d_wrong_way)} of {np.sum(d_changes)}")
        feasible = ok & (np.asarray(d_wrong_way) == 0)
        if feasible.any():
            print(f"  valid and feasible only ({feasible.sum()}): mean changes {np.mean(np.asarray(d_changes)[feasible]):.2f}, "
                  f"mean cost {np.mean(np.asarray(d_cost)[feasible]):.2f}")
    print(f"innoscore on the same {n} firms: found for {sum(cf.status == 'found' for cf in ours)}; mean changes "
          f"{np.mean([len(a.changes) for a in our_alts]):.2f}, mean cost {np.mean([a.cost for a in our_alts]):.2f}, "
          f"median {1000 * np.median(times[:n]):.1f} ms per firm")


if __name__ == "__main__":
    main()
