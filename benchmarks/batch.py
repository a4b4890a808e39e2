"""Batch scoring benchmark, one run: firms/s and peak memory for the in-process floors (bare predict,
bare pred_contrib), the local engine (score, score+explain) and the Dask engine with 2 workers.

Each measurement runs in its own process (peak memory is its own). Input: a synthetic portfolio as
Parquet; the model: the configured LightGBM trained on 30k firms into a temporary MLflow store.
Run: .venv/bin/python benchmarks/batch.py [--rows 1000000] [--memory-sizes 100000 1000000 5000000]
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from _measure import run_isolated

SETUP = """
import os, logging
os.environ["MLFLOW_TRACKING_URI"] = "{uri}"
logging.getLogger("mlflow").setLevel(logging.ERROR)
from innoscore.model.tracking.store import configure_mlflow
from innoscore.model.tracking.registry import load_pd_model
configure_mlflow()
model, _ = load_pd_model("models:/innoscore-pd@challenger")
"""

FLOOR = SETUP + """
import pandas as pd
from innoscore.features.validation import coerce_frame
rows = pd.read_parquet("{data}")
feats = model.estimator.features(rows).to_numpy()  # the bare-booster floor reaches into LightGBM on purpose
booster, it = model.estimator.booster_, model.estimator.best_iteration_
t0 = time.perf_counter(); booster.predict(feats, num_iteration=it, raw_score=True); predict_s = time.perf_counter() - t0
sub = feats[:200_000]
t0 = time.perf_counter(); booster.predict(sub, num_iteration=it, pred_contrib=True); contrib_s = time.perf_counter() - t0
RESULT = {{"predict_firms_per_s": round(len(feats) / predict_s), "pred_contrib_firms_per_s": round(len(sub) / contrib_s)}}
"""

ENGINE = SETUP + """
from innoscore.model.scoring.batch import score_file_local, score_file_dask
scheduler = None
if "{engine}" == "dask-warm":  # an already running cluster whose workers have imported innoscore
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    Client(cluster).run(lambda: __import__("innoscore.model.scoring.batch"))
    scheduler = cluster.scheduler_address
t0 = time.perf_counter()
if "{engine}" == "local":
    s = score_file_local("{data}", "{out}", model, with_explanations={explain}, chunk_rows=100_000)
else:
    s = score_file_dask("{data}", "{out}", model, with_explanations={explain}, n_workers=2, scheduler=scheduler)
wall = time.perf_counter() - t0
RESULT = {{"engine": "{engine}", "explain": {explain}, "rows": s.rows_in, "firms_per_s": round(s.rows_in / wall)}}
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--memory-sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    uri = f"sqlite:///{tmp}/mlflow.db"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    run_isolated(f"""
import logging; logging.getLogger("mlflow").setLevel(logging.ERROR)
from innoscore.features.catalogue import load_catalogue
from innoscore.features.synthetic import generate_portfolio
from innoscore.model.config import TrainingConfig
from innoscore.model.training import train_models
import pyarrow as pa, pyarrow.parquet as pq
cat, cfg = load_catalogue(), TrainingConfig.load()
cfg = cfg.with_search_trials(0)
train_models(generate_portfolio(30_000, seed=1, catalogue=cat).data, cat, cfg, experiment="bench")
for n in sorted(set({args.memory_sizes!r} + [{args.rows}])):
    data = generate_portfolio(n, seed=2, catalogue=cat).data.drop(columns=["default_12m", "true_pd"])
    pq.write_table(pa.Table.from_pandas(data, preserve_index=False), "{tmp}/firms-%d.parquet" % n, row_group_size=100_000)
RESULT = {{}}
""")
    data = f"{tmp}/firms-{args.rows}.parquet"
    floor = run_isolated(FLOOR.format(uri=uri, data=data))
    cores = os.cpu_count()
    print(f"{args.rows:,} rows, {cores} cores")
    print(f"  floor: bare predict {floor['predict_firms_per_s']:,} firms/s, bare pred_contrib "
          f"{floor['pred_contrib_firms_per_s']:,} firms/s (peak {floor['peak_rss_mb']} MB)")
    # dask: the engine starts its own LocalCluster (worker start and imports, ~10 s, are in the time);
    # dask-warm: a running cluster, as on a bank's cluster.
    for engine, explain in (("local", False), ("local", True), ("dask", False), ("dask-warm", False),
                            ("dask-warm", True)):
        out = f"{tmp}/out-{engine}-{explain}" + (".parquet" if engine == "local" else "")
        r = run_isolated(ENGINE.format(uri=uri, data=data, out=out, engine=engine, explain=explain))
        ref = floor["pred_contrib_firms_per_s"] if explain else floor["predict_firms_per_s"]
        print(f"  {engine:<9} {'score+explain' if explain else 'score':<13} {r['firms_per_s']:>9,} firms/s "
              f"({r['firms_per_s'] // cores:,}/core; {ref / r['firms_per_s']:.2f}x the floor's time)  "
              f"peak {r['peak_rss_mb']} MB" + (" (client process only)" if engine != "local" else ""))
    print("  local engine peak memory by input size (score):")
    for n in args.memory_sizes:
        r = run_isolated(ENGINE.format(uri=uri, data=f"{tmp}/firms-{n}.parquet", out=f"{tmp}/mem-{n}.parquet",
                                       engine="local", explain=False))
        print(f"    {n:>10,} rows: peak {r['peak_rss_mb']} MB, {r['firms_per_s']:,} firms/s")


if __name__ == "__main__":
    main()
