"""What a bank installs and deploys: the wheel in a fresh environment, the built Bento, the MLflow model."""
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest

from innoscore.paths import checkout_root
from tests.conftest import free_port, running_service

ROOT = checkout_root()
LOCK = ROOT / "requirements.lock"


def _uv() -> list[str]:
    """uv as the Makefile installs it (a module of the machine's Python), or on PATH."""
    return [shutil.which("uv")] if shutil.which("uv") else [shutil.which("python3") or "python3", "-m", "uv"]


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([*_uv(), "build", "--wheel", "--out-dir", str(out), str(ROOT)], check=True, capture_output=True)
    (path,) = out.glob("innoscore-*.whl")
    return path


def test_the_wheel_holds_one_package_with_its_configs_and_template(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names if ".dist-info" not in n.split("/")[0]} == {"innoscore"}
    for shipped in ("configs/indicators.yaml", "configs/training.yaml", "configs/scorecard.yaml",
                    "configs/serving.yaml", "configs/synthetic.yaml", "model/reports/templates/report.html.j2",
                    "model/tracking/pyfunc_code.py", "serving/service.py"):
        assert f"innoscore/{shipped}" in names


def _lock_pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", line)
        if m:
            pins[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return pins


def _imported_distributions(files: list[str]) -> dict[str, set[str]]:
    """For each module that these innoscore source files import (top level or inside functions),
    the distributions that provide it (mlflow: mlflow, mlflow-skinny, mlflow-tracing), leaving out the
    standard library and innoscore itself."""
    stdlib = set(sys.stdlib_module_names)
    owners = packages_distributions()
    found = {}
    for path in files:
        for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
            for name in names:
                top = name.split(".")[0]
                if top not in stdlib and top not in ("innoscore", "__future__"):
                    assert top in owners, f"{path} imports {top}, which no installed distribution provides"
                    found[top] = {re.sub(r"[-_.]+", "-", d).lower() for d in owners[top]}
    return found


@pytest.mark.slow
@pytest.mark.parametrize("registered", ["innoscore-pd", "innoscore-expert-scorecard", "innoscore-woe-scorecard"])
def test_every_import_reachable_from_the_pyfunc_is_a_pinned_requirement(trained, registered, tmp_path):
    """Load and predict in a fresh interpreter; every innoscore module it imported has its imports declared."""
    script = f"""
import json, sys, mlflow, pandas as pd
model = mlflow.pyfunc.load_model("models:/{registered}@challenger")
model.predict(pd.read_parquet(sys.argv[1]))
print(json.dumps([m.__file__ for n, m in list(sys.modules.items())
                  if n.startswith("innoscore") and getattr(m, "__file__", None)]))
"""
    rows = trained["data"].head(20)
    rows.to_parquet(tmp_path / "rows.parquet")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "rows.parquet")], capture_output=True,
                         text=True, env={**os.environ, "MLFLOW_TRACKING_URI": trained["uri"]}, check=True)
    used = _imported_distributions(json.loads(out.stdout.strip().splitlines()[-1]))
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{registered}@challenger", dst_path=str(tmp_path)))
    declared = {}
    for line in (local / "requirements.txt").read_text().splitlines():
        name, _, pin = line.partition("==")
        declared[re.sub(r"[-_.]+", "-", name).lower()] = pin
    undeclared = sorted(module for module, dists in used.items() if not dists & set(declared))
    assert not undeclared, f"imported but no providing distribution declared: {undeclared}"
    assert {"lightgbm", "pandera", "scikit-learn"} <= {d for dists in used.values() for d in dists}
    pins = _lock_pins()
    assert {name: pin for name, pin in declared.items() if name in pins} == {n: pins[n] for n in declared if n in pins}
    assert set(declared) <= set(pins), "every declared requirement is pinned by the lock"


@pytest.fixture(scope="module")
def fresh_env(wheel, tmp_path_factory):
    """A new virtual environment outside the checkout: the locked requirements and the wheel, no source tree."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    subprocess.run([*_uv(), "venv", "-q", str(venv), "--python", sys.executable], check=True, env=env)
    python = venv / "bin" / "python"
    subprocess.run([*_uv(), "pip", "sync", "-q", "--python", str(python), str(LOCK)], check=True, env=env)
    subprocess.run([*_uv(), "pip", "install", "-q", "--python", str(python), "--no-deps", str(wheel)], check=True,
                   env=env)
    return venv / "bin"


@pytest.mark.slow
def test_the_installed_wheel_runs_the_whole_job_from_any_directory(fresh_env, wheel, tmp_path, catalogue):
    """generate, validate, train, promote, explain, score and a Bento, with the packaged defaults only."""
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "BENTOML_HOME", "PYTHONPATH")}
    env.update({"INNOSCORE_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true", "MPLBACKEND": "Agg"})

    def innoscore(*args):
        done = subprocess.run([str(fresh_env / "innoscore"), *map(str, args)], cwd=work, env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, f"innoscore {args[0]}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
        return done.stdout

    where = subprocess.run([str(fresh_env / "python"), "-c", "import innoscore; print(innoscore.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout
    assert str(ROOT) not in where and "site-packages" in where
    innoscore("generate", "--n-firms", 8000, "--seed", 3, "--out", "portfolio.parquet")
    innoscore("validate", "--data", "portfolio.parquet")
    assert "registered lightgbm: models:/innoscore-pd/1" in innoscore("train", "--data", "portfolio.parquet")
    innoscore("promote", "--name", "innoscore-pd", "--version", 1)
    innoscore("explain", "--data", "portfolio.parquet", "--firm-id", "F0000001", "--out", "report.html")
    innoscore("score", "--data", "portfolio.parquet", "--out", "scores.parquet")
    assert "F0000001" in (work / "report.html").read_text(encoding="utf-8")
    scores = pd.read_parquet(work / "scores.parquet")
    assert len(scores) == 8000 and scores["pd"].between(0, 1).all()
    assert (home / "mlruns" / "mlflow.db").is_file() and not (ROOT / "portfolio.parquet").exists()

    # The Bento: built from the project's bentofile with the installed package, served from the bundle.
    shutil.copytree(ROOT, tmp_path / "ctx", ignore=shutil.ignore_patterns(".git", ".venv", "mlruns", "bentoml-home",
                                                                             "dist", "*.parquet", "demo-output"))
    (tmp_path / "ctx" / "dist").mkdir()
    shutil.copy2(wheel, tmp_path / "ctx" / "dist")
    tag = innoscore("bento", "--build-ctx", tmp_path / "ctx").split("built Bento ")[1].split()[0]
    port = free_port()
    env_serve = {**env, "BENTOML_HOME": str(home / "bentoml-home")}
    rows = pd.read_parquet(work / "portfolio.parquet").head(20)
    payload = json.loads(rows[["firm_id", *catalogue.indicator_ids]].to_json(orient="records"))
    with running_service([str(fresh_env / "bentoml"), "serve", tag, "--host", "127.0.0.1", "--port", str(port)],
                         env_serve, tmp_path / "bento.log", port, cwd=work) as base:
        reply = httpx.post(f"{base}/score", json={"firms": payload}, timeout=60)
    assert reply.status_code == 200, reply.text
    served = pd.DataFrame(reply.json()["results"])

    # In process, from the same MLflow store, with this checkout's code.
    from innoscore.model.scoring.score import score_frame
    from innoscore.model.tracking.registry import load_pd_model
    from innoscore.model.tracking.store import configure_mlflow

    configure_mlflow(f"sqlite:///{home / 'mlruns' / 'mlflow.db'}")
    model, _ = load_pd_model("models:/innoscore-pd@champion")
    expected = score_frame(rows, model)
    assert served["firm_id"].tolist() == expected["firm_id"].tolist()
    np.testing.assert_allclose(served["pd"], expected["pd"], rtol=0, atol=1e-12)
    assert served["grade"].tolist() == expected["grade"].tolist()
    assert served["missing_indicators"].map(sorted).tolist() == expected["missing_indicators"].map(sorted).tolist()
