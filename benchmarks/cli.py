"""Wall time of the CLI's commands, idle, against what they cannot avoid (issue #24 row 16).

Each command runs in a fresh process (as a user or a scheduler runs it), best of `--repeats`, beside
two references measured in the same run: a bare interpreter importing mlflow (every registry command
needs MLflow's client) and importing mlflow + lightgbm (a scoring command needs both). Targets:
registry-only commands under 2 s, a 2,000-firm score under 3 s.

Run: python benchmarks/cli.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INNOSCORE = str(Path(sys.executable).with_name("innoscore"))


def best_of(command: list[str], repeats: int, env: dict) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"}
    portfolio = tmp / "portfolio.parquet"
    subprocess.run([INNOSCORE, "generate", "--n-firms", "10000", "--out", str(portfolio)], env=env, check=True,
                   capture_output=True)
    subprocess.run([INNOSCORE, "train", "--data", str(portfolio)], env=env, check=True, capture_output=True)
    firms = tmp / "firms.csv"
    subprocess.run([sys.executable, "-c", f"import pandas as pd; pd.read_parquet({str(portfolio)!r}).head(2000)"
                                          f".to_csv({str(firms)!r}, index=False)"], check=True)
    rows = {
        "python -c 'import mlflow' (reference)": [sys.executable, "-c", "import mlflow"],
        "python -c 'import mlflow, lightgbm' (reference)": [sys.executable, "-c", "import mlflow, lightgbm"],
        "innoscore --help": [INNOSCORE, "--help"],
        "innoscore promote": [INNOSCORE, "promote", "--name", "innoscore-pd", "--version", "1", "--alias", "champion"],
        "innoscore score (2,000 firms)": [INNOSCORE, "score", "--data", str(firms), "--out", str(tmp / "s.parquet"),
                                          "--model-uri", "models:/innoscore-pd@champion"],
    }
    measured = {label: best_of(command, args.repeats, env) for label, command in rows.items()}
    reference = measured["python -c 'import mlflow' (reference)"]
    print(f"{'command':<48} {'seconds':>8} {'/ import mlflow':>16}")
    for label, seconds in measured.items():
        print(f"{label:<48} {seconds:>8.2f} {seconds / reference:>16.2f}")


if __name__ == "__main__":
    main()
