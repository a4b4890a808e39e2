"""Training benchmark: 100k firms, all three models, the configured search budget, MLflow logging.

Runs in a fresh process with a temporary MLflow SQLite store; prints wall time per stage, peak
memory, the test-year comparison (with the oracle) and the PD level against the true PD by decile,
so the acceptance figures come from here.
Run: .venv/bin/python benchmarks/training.py [--n-firms 100000] [--seed 42] [--trials N]
"""
from __future__ import annotations

import argparse
import json

from _measure import run_isolated

CODE = """
import os, tempfile
tmp = tempfile.mkdtemp()
os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{{tmp}}/mlflow.db"
import logging; logging.getLogger("mlflow").setLevel(logging.ERROR)
from innoscore.features.catalogue import load_catalogue
from innoscore.features.synthetic import generate_portfolio
from innoscore.model.config import TrainingConfig
from innoscore.model.training import train_models
cat = load_catalogue(); cfg = TrainingConfig.load()
if {trials} >= 0:
    cfg = cfg.with_search_trials({trials})
data = generate_portfolio({n}, seed={seed}, catalogue=cat).data
stages, last = {{}}, [time.perf_counter(), "start"]
def progress(msg):
    now = time.perf_counter()
    stages[last[1]] = stages.get(last[1], 0) + now - last[0]
    label = msg.split(" /")[0]
    last[:] = [now, "LightGBM search" if label.startswith(("LightGBM candidate", "LightGBM search")) else label]
t0 = time.perf_counter()
result = train_models(data, cat, cfg, experiment="bench", progress=progress)
total = time.perf_counter() - t0
test = {{k: {{m: round(v["test"][m], 4) for m in ("auc", "ece", "brier")}} for k, v in result.metrics.items()}}
RESULT = {{"n_firms": {n}, "n_trials": cfg.lightgbm.search.n_trials, "wall_s": round(total, 1),
          "stages_s": {{k: round(v, 1) for k, v in stages.items() if k != "start"}},
          "best_iteration": int(result.models["lightgbm"].best_iteration_),
          "lightgbm_params": result.models["lightgbm"].params, "test": test}}
if "oracle" in result.pds:
    import numpy as np
    pd_, true = result.pds["lightgbm"]["test"], result.pds["oracle"]["test"]
    order = np.argsort(pd_, kind="stable")
    RESULT["pd_over_true_by_decile"] = [round(float(pd_[c].mean() / true[c].mean()), 3)
                                        for c in np.array_split(order, 10)]
    safer = order[: len(order) // 2]
    RESULT["pd_over_true_safer_half"] = round(float(pd_[safer].mean() / true[safer].mean()), 3)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-firms", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--trials", type=int, default=-1, help="override the search budget (-1: config)")
    args = parser.parse_args()
    r = run_isolated(CODE.format(n=args.n_firms, seed=args.seed, trials=args.trials))
    print(json.dumps(r, indent=2, ensure_ascii=False))
    t = r["test"]
    print(f"\n{r['n_firms']:,} firms, {r['n_trials']} search trials: {r['wall_s']} s wall, {r['peak_rss_mb']} MB peak")
    for name, m in t.items():
        gap = t.get("oracle", {}).get("auc", float("nan")) - m["auc"]
        print(f"  {name:<17} test AUC {m['auc']:.4f}  ECE {m['ece']:.4f}  gap to oracle {gap:+.4f}")
    if "pd_over_true_by_decile" in r:
        print("  LightGBM mean PD / mean true PD by decile of model PD (safest first): "
              + " ".join(f"{v:.3f}" for v in r["pd_over_true_by_decile"])
              + f"; safer half {r['pd_over_true_safer_half']:.3f}")


if __name__ == "__main__":
    main()
