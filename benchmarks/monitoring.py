"""Monitoring at scale and the inference log's cost to batch scoring (issue #15's floors).

1. `innoscore monitor --log` over 250k and 1M logged firms, each in a fresh process: wall time and
   peak memory (target: 1M under a minute on 2 cores, memory flat in the number of firms).
2. Batch scoring of the same file with and without `--log-dir`, alternated (target: <= 1.10).

Run: python benchmarks/monitoring.py [--firms 1000000]
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from _measure import run_isolated


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--firms", type=int, default=1_000_000)
    parser.add_argument("--batch-rows", type=int, default=200_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    os.environ.update({"MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"})
    import logging

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    from innoscore.features.catalogue import load_catalogue
    from innoscore.features.synthetic import generate_portfolio
    from innoscore.model.config import TrainingConfig
    from innoscore.model.monitoring.log import LogTarget, log_schema, log_table, write_log_file
    from innoscore.model.scoring.batch import score_file_local
    from innoscore.model.scoring.score import score_frame
    from innoscore.model.tracking.registry import load_pd_model
    from innoscore.model.training import train_models

    cat = load_catalogue()
    result = train_models(generate_portfolio(30_000, seed=1, catalogue=cat).data, cat,
                          TrainingConfig.load().with_search_trials(0), experiment="bench")
    name, version = result.versions["lightgbm"]
    uri = f"models:/{name}/{version}"
    model, _ = load_pd_model(uri)

    # A log of `firms` records: one scored block of 100k firms, written as many times as needed.
    block = generate_portfolio(100_000, seed=9, catalogue=cat).data
    table = log_table(log_schema(cat), block, score_frame(block, model), time.time(), "http", name, str(version))
    sizes = sorted({max(len(block), args.firms // 4), max(len(block), args.firms)})
    for size in sizes:
        folder = tmp / f"log-{size}"
        for k in range(size // len(block)):
            write_log_file(folder, table.slice(0, len(block)), day=f"2026-01-{k % 28 + 1:02d}")
    code = (f"import os; os.environ['MLFLOW_TRACKING_URI'] = {os.environ['MLFLOW_TRACKING_URI']!r}\n"
            "from innoscore.model.tracking.registry import load_pd_model\n"
            "from innoscore.model.monitoring.monitor import monitor, observed_log\n"
            f"model, _ = load_pd_model({uri!r})\n"
            "t = time.perf_counter()\n"
            "r = monitor(observed_log(LOG, model), model)\n"
            "RESULT = {'seconds': time.perf_counter() - t, 'firms': r.n_firms, 'light': r.light}\n")
    print(f"{'logged firms':>12} {'seconds':>8} {'firms/s':>10} {'peak RSS MB':>12}")
    for size in sizes:
        r = run_isolated(code.replace("LOG", repr(str(tmp / f"log-{size}"))))
        print(f"{r['firms']:>12,} {r['seconds']:>8.1f} {r['firms'] / r['seconds']:>10,.0f} {r['peak_rss_mb']:>12,.0f}")

    data = tmp / "batch.parquet"
    generate_portfolio(args.batch_rows, seed=10, catalogue=cat).data.to_parquet(data)
    times = {"without": [], "with": []}
    for rep in range(3):
        for label in ("without", "with"):
            log = LogTarget(str(tmp / f"batch-log-{rep}"), name, str(version)) if label == "with" else None
            t = time.perf_counter()
            score_file_local(data, tmp / "scores.parquet", model, log=log)
            times[label].append(time.perf_counter() - t)
    best = {k: min(v) for k, v in times.items()}
    print(f"\nbatch scoring {args.batch_rows:,} rows: {best['without']:.2f} s without the log, {best['with']:.2f} s with "
          f"(best of 3, alternated): ratio {best['with'] / best['without']:.3f}  (target <= 1.10)")
    print(json.dumps({"batch": best}))


if __name__ == "__main__":
    main()
