from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")

from innoscore.features.catalogue import load_catalogue  # noqa: E402
from innoscore.features.synthetic import generate_portfolio  # noqa: E402


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(command: list[str], env: dict, log: Path, port: int, cwd: Path | None = None,
                  timeout_s: float = 180) -> subprocess.Popen:
    """Start an HTTP service on 127.0.0.1:`port` in its own process group and wait for /readyz; the
    caller stops it (a test that signals it mid-run needs the process)."""
    import httpx

    with open(log, "wb") as out:
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            pytest.fail(f"{command[0]} exited: {log.read_text()[-3000:]}")
        time.sleep(1)
    os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail(f"service not ready in time: {log.read_text()[-3000:]}")


@contextmanager
def running_service(command: list[str], env: dict, log: Path, port: int, cwd: Path | None = None,
                    timeout_s: float = 180):
    """Start an HTTP service on 127.0.0.1:`port`, wait for /readyz, yield its base URL, stop it after."""
    proc = start_service(command, env, log, port, cwd, timeout_s)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.fixture(scope="session")
def catalogue():
    return load_catalogue()


@pytest.fixture(scope="session")
def small_portfolio(catalogue):
    """A few thousand firms: enough for shape and validation checks, fast to make."""
    return generate_portfolio(3000, seed=11, catalogue=catalogue)


@pytest.fixture(scope="session")
def large_portfolio(catalogue):
    """50k firms: enough for stable marginals, default rates and AUCs."""
    return generate_portfolio(50_000, seed=2024, catalogue=catalogue)


@pytest.fixture
def good_csv(tmp_path: Path, small_portfolio) -> Path:
    path = tmp_path / "firms.csv"
    small_portfolio.data.head(200).to_csv(path, index=False)
    return path


def small_training_config(tmp_path: Path, n_trials: int = 2, **registry) -> Path:
    """configs/training.yaml with a smaller search budget (and other registry names if given)."""
    import yaml

    from innoscore.paths import DEFAULT_TRAINING_CONFIG

    raw = yaml.safe_load(DEFAULT_TRAINING_CONFIG.read_text(encoding="utf-8"))
    raw["lightgbm"]["search"]["n_trials"] = n_trials
    raw["registry"].update(registry)
    path = tmp_path / "training.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def _trained_session(tmp_path_factory, catalogue):
    """One training run through the real CLI into a fresh MLflow SQLite store: 40k firms, 2 search trials."""
    import json

    import pandas as pd
    from typer.testing import CliRunner

    from innoscore.cli import app
    from innoscore.features.synthetic import write_portfolio

    tmp = tmp_path_factory.mktemp("train")
    uri = f"sqlite:///{tmp}/mlflow.db"
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        data_path, _ = write_portfolio(generate_portfolio(40_000, seed=5, catalogue=catalogue), tmp / "portfolio.parquet")
        metrics_out = tmp / "metrics.json"
        result = CliRunner().invoke(app, ["train", "--data", str(data_path), "--config", str(small_training_config(tmp)),
                                          "--experiment", "test-exp", "--metrics-out", str(metrics_out)])
        assert result.exit_code == 0, result.output
    finally:
        if old is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = old
    return {"tmp": tmp, "uri": uri, "data_path": data_path, "data": pd.read_parquet(data_path),
            "metrics": json.loads(metrics_out.read_text()), "output": result.output}


@pytest.fixture
def trained(_trained_session, monkeypatch):
    """The trained store, with MLflow pointed at it for this test."""
    from innoscore.model.tracking.store import configure_mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", _trained_session["uri"])
    configure_mlflow()
    return _trained_session
