"""Serving benchmark, one run, one registered version, measured side by side.

(a) in-process scoring with validation (the floor), (b) BentoML /score, (c) BentoML /explain,
(d) `mlflow models serve` on the same version; 1 firm and 100 firms per request, sequential and
with concurrency. Prints p50/p99 latency, requests/s and the ratios the serving issue targets.

Run: .venv/bin/python benchmarks/serving.py [--seconds 8] [--concurrency 8]
It trains a small model into a temporary MLflow store first, so it needs nothing else. Request bodies
are encoded once beforehand: the client's JSON encoding is not the server's time.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

JSON = {"content-type": "application/json"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"{url} not ready")


def measure(call, seconds: float, concurrency: int) -> dict:
    """Latencies of `call()` from `concurrency` threads for `seconds`; errors counted."""
    lat, errors, stop = [], [0], time.time() + seconds
    lock = threading.Lock()

    def worker():
        while time.time() < stop:
            t0 = time.perf_counter()
            ok = call()
            dt = time.perf_counter() - t0
            with lock:
                lat.append(dt) if ok else errors.__setitem__(0, errors[0] + 1)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t0 = time.perf_counter()
    [t.start() for t in threads]
    [t.join() for t in threads]
    wall = time.perf_counter() - t0
    a = np.array(lat) * 1000
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "req_per_s": len(a) / wall, "errors": errors[0]}


def measure_pair(call_a, call_b, seconds: float, statistic=np.median, block_s: float = 0.0) -> tuple[float, float]:
    """Latencies (ms; the median, or `statistic`) of two calls made alternately, so that the machine's
    noise falls on both alike: one call each in turn, or blocks of `block_s` seconds each in turn (for
    servers of unlike cost: what one does after replying must not land on the other's calls). One
    client's throughput is 1 / its mean latency."""
    lat_a, lat_b, stop = [], [], time.time() + seconds
    while time.time() < stop:
        for call, lat in ((call_a, lat_a), (call_b, lat_b)):
            block_end = time.perf_counter() + block_s
            while True:
                t0 = time.perf_counter()
                assert call()
                lat.append(time.perf_counter() - t0)
                if t0 >= block_end:
                    break
    return float(statistic(lat_a) * 1000), float(statistic(lat_b) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db", "BENTOML_HOME": str(tmp / "bento"),
           "BENTOML_DO_NOT_TRACK": "true"}
    os.environ.update(env)
    import logging

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    from innoscore.features.catalogue import load_catalogue
    from innoscore.features.synthetic import generate_portfolio
    from innoscore.model.config import TrainingConfig
    from innoscore.model.scoring.record import record_dicts
    from innoscore.model.scoring.score import score_request
    from innoscore.serving.schemas import firm_model, firm_problems
    from innoscore.model.tracking.registry import load_pd_model
    from innoscore.model.training import train_models

    cat, cfg = load_catalogue(), TrainingConfig.load()
    cfg = cfg.with_search_trials(0)
    data = generate_portfolio(30_000, seed=1, catalogue=cat).data
    result = train_models(data, cat, cfg, experiment="bench")
    name, version = result.versions["lightgbm"]
    uri = f"models:/{name}/{version}"
    model, _ = load_pd_model(uri)
    Firm = firm_model(cat)
    rows = data[data["application_date"].dt.year == 2024].head(100)
    payload = json.loads(rows[["firm_id", *cat.indicator_ids]].to_json(orient="records"))
    bin_dir = Path(sys.executable).parent
    bport, nport, mport = free_port(), free_port(), free_port()
    undecided = tmp / "serving-undecided.yaml"        # the same service without the credit decision
    undecided.write_text("decide: false\n", encoding="utf-8")

    def innoscore_serve(port: int, *extra: str) -> subprocess.Popen:
        return subprocess.Popen([str(bin_dir / "innoscore"), "serve", "--model-uri", uri, "--port", str(port), *extra],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    lport = free_port()
    bento, bento_undecided = innoscore_serve(bport), innoscore_serve(nport, "--config", str(undecided))
    bento_logged = innoscore_serve(lport, "--log-dir", str(tmp / "inference-log"))   # the same, logging every firm
    mlf = subprocess.Popen([str(bin_dir / "mlflow"), "models", "serve", "-m", uri, "-p", str(mport), "--env-manager",
                            "local", "--host", "127.0.0.1"], env={**env, "PATH": f"{bin_dir}:{env['PATH']}"},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    results, decided, logged, explained, round_trip, sequential = {}, {}, {}, {}, (0.0, 0.0), (0.0, 0.0)
    try:
        wait_ready(f"http://127.0.0.1:{bport}/readyz", bento)
        wait_ready(f"http://127.0.0.1:{nport}/readyz", bento_undecided)
        wait_ready(f"http://127.0.0.1:{lport}/readyz", bento_logged)
        wait_ready(f"http://127.0.0.1:{mport}/ping", mlf)
        local = threading.local()

        def client():
            if not hasattr(local, "c"):
                local.c = httpx.Client(timeout=60)
            return local.c

        def post(port: int, path: str, data: bytes) -> bool:
            """One request with a body encoded beforehand: the client's JSON encoding is not the server's time."""
            return client().post(f"http://127.0.0.1:{port}{path}", content=data, headers=JSON).status_code == 200

        for n in (1, 100):
            body = {"firms": payload[:n]}
            request, mlflow_request = json.dumps(body).encode(), json.dumps({"dataframe_records": payload[:n]}).encode()

            def in_process(raw=request, n=n):
                """What the service does with a body: parse, validate by the request model, score."""
                firms = json.loads(raw)["firms"]
                assert not firm_problems(Firm, cat, firms)
                return len(record_dicts(score_request([Firm.model_validate(f).model_dump() for f in firms], model)[1])) == n

            calls = {
                "(a) in-process parse, validate, score": in_process,
                "(b) BentoML /score": lambda: post(bport, "/score", request),
                "(b0) /score without the decision": lambda: post(nport, "/score", request),
                "(c) BentoML /explain": lambda: post(bport, "/explain", request),
                "(d) mlflow models serve": lambda: post(mport, "/invocations", mlflow_request),
                "bare HTTP round-trip (/livez)": lambda: client().get(f"http://127.0.0.1:{bport}/livez").status_code == 200,
            }
            decided[n] = measure_pair(calls["(b) BentoML /score"], calls["(b0) /score without the decision"],
                                      args.seconds)
            explained[n] = measure_pair(calls["(c) BentoML /explain"], calls["(b) BentoML /score"], args.seconds)
            if n == 1:
                round_trip = measure_pair(calls["(b) BentoML /score"], calls["bare HTTP round-trip (/livez)"],
                                          args.seconds)
                sequential = measure_pair(calls["(b) BentoML /score"], calls["(d) mlflow models serve"],
                                          args.seconds, np.mean, block_s=0.5)
            logged[n] = measure_pair(lambda: post(lport, "/score", request),
                                     calls["(b) BentoML /score"], args.seconds)
            if n == 1:
                cf_request = json.dumps({**body, "counterfactual": {"grade": "AAA"}}).encode()   # the farthest target
                results[(1, 1, "(e) /explain with a counterfactual")] = measure(
                    lambda: post(bport, "/explain", cf_request), args.seconds, 1)
            for conc in (1, args.concurrency):
                for label, call in calls.items():
                    if label.startswith("(a)") and conc > 1:
                        continue
                    results[(n, conc, label)] = measure(call, args.seconds, conc)
    finally:
        for p in (bento, bento_undecided, bento_logged, mlf):
            os.killpg(p.pid, signal.SIGTERM)
    print(f"{'firms':>5} {'conc':>4} {'':<36} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'errors':>6}")
    for (n, conc, label), r in results.items():
        print(f"{n:>5} {conc:>4} {label:<36} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['req_per_s']:>8.1f} {r['errors']:>6}")
    a, b = (results[(1, 1, k)] for k in ("(a) in-process parse, validate, score", "(b) BentoML /score"))
    bc, dc = results[(1, args.concurrency, "(b) BentoML /score")], results[(1, args.concurrency, "(d) mlflow models serve")]
    print(f"\nin-process 1 firm p50 = {a['p50_ms']:.2f} ms  (target <= 1)")
    print("latency ratios: p50s of alternating calls (the machine's noise falls on both alike):")
    print(f"/score 1-firm p50 / bare HTTP round-trip p50 = {round_trip[0] / round_trip[1]:.2f}  "
          f"({round_trip[0]:.2f} vs {round_trip[1]:.2f} ms; target <= 2)")
    print(f"/score throughput / mlflow serve, sequential (alternating blocks) = {sequential[1] / sequential[0]:.2f} "
          f"(mean {sequential[0]:.2f} vs {sequential[1]:.2f} ms), concurrency {args.concurrency} = "
          f"{bc['req_per_s'] / dc['req_per_s']:.2f}  (target >= 4)")
    print(f"/score throughput at concurrency {args.concurrency} / sequential = {bc['req_per_s'] / b['req_per_s']:.2f}  "
          f"(target >= 1)")
    for n, target in ((1, 1.5), (100, 3)):
        with_e, score_only = explained[n]
        print(f"/explain {n}-firm p50 / /score p50 = {with_e / score_only:.2f}  "
              f"({with_e:.1f} vs {score_only:.1f} ms; target <= {target:g})")
    for n, (with_d, without) in decided.items():
        print(f"/score {n}-firm p50 with the decision / without (alternating calls) = {with_d / without:.2f}  "
              f"({with_d:.1f} vs {without:.1f} ms; target <= 1.10)")
    e = results[(1, 1, "(e) /explain with a counterfactual")]
    print(f"/explain with a counterfactual (target AAA), 1 firm p50 = {e['p50_ms']:.1f} ms  (target < 100)")
    for n, (with_log, without) in logged.items():
        print(f"/score {n}-firm p50 with the inference log / without (alternating calls) = {with_log / without:.3f}  "
              f"({with_log:.2f} vs {without:.2f} ms; target <= 1.05)")


if __name__ == "__main__":
    main()
