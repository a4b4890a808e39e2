"""MLflow set-up and run bookkeeping: local SQLite under mlruns/ by default, a server if configured."""
from __future__ import annotations

import subprocess
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient
from innoscore.hashing import short_hash


def configure_mlflow(tracking_uri: str | None = None) -> str:
    """Point MLflow at `tracking_uri` (default: MLFLOW_TRACKING_URI or sqlite:///mlruns/mlflow.db)."""
    from innoscore.paths import tracking_uri as default_uri

    uri = tracking_uri or default_uri()
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


class StoreUnavailable(RuntimeError):
    """The tracking store a command reads from is missing, unreadable or unreachable (one line)."""


def check_store(uri: str | None = None, timeout_s: float = 5.0) -> str:
    """Fail fast, in one line, when the store to read models from is not there: a missing SQLite file
    (MLflow would create an empty registry), a folder in its place, a file that is not an MLflow
    database, a tracking server that does not answer within `timeout_s` (MLflow retries for minutes)."""
    import sqlite3

    from innoscore.paths import tracking_uri as default_uri

    uri = uri or default_uri()
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        if not path.exists():
            raise StoreUnavailable(f"no MLflow store at {path}: train a model first (innoscore train, make demo) "
                                   f"or set MLFLOW_TRACKING_URI / 未找到MLflow存储")
        if not path.is_file():
            raise StoreUnavailable(f"{path} is not a file: the MLflow store must be a SQLite database / 存储路径不是文件")
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout_s) as db:
                tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            raise StoreUnavailable(f"{path} is not a readable MLflow database ({exc}) / MLflow数据库无法读取") from None
        if "registered_models" not in tables:
            raise StoreUnavailable(f"{path} is not an MLflow store (no model registry tables) / 不是MLflow存储")
    elif uri.startswith(("http://", "https://")):
        import urllib.error
        import urllib.request

        try:
            urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout_s).close()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise StoreUnavailable(f"the tracking server {uri} does not answer as an MLflow server within {timeout_s:g} s ({reason}) "
                                   f"/ 无法连接MLflow服务器") from None
    return uri


def artifact_root(uri: str) -> str | None:
    """Artifacts beside a local SQLite store (<db dir>/artifacts); a server decides its own."""
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").resolve().as_uri()
    return None


EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING_KIND = "custom_model_development"    # MLflow 3's UI opens an untagged experiment on its GenAI overview


def ensure_experiment(name: str) -> str:
    """The experiment's id (created beside the store's artifacts if new), marked as model work so
    that MLflow's UI opens it on its runs."""
    client = MlflowClient()
    exp = client.get_experiment_by_name(name)
    if exp is None:
        root = artifact_root(mlflow.get_tracking_uri())
        location = f"{root}/{name}" if root else None
        experiment_id = client.create_experiment(name, artifact_location=location,
                                                 tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING_KIND})
    else:
        experiment_id = exp.experiment_id
        if EXPERIMENT_KIND_TAG not in exp.tags:
            client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND)
    return experiment_id


def data_fingerprint(data: pd.DataFrame) -> str:
    """A content hash of the data (values and column names), recorded with every run and model."""
    return short_hash(",".join(map(str, data.columns)),
                      pd.util.hash_pandas_object(data, index=False).to_numpy().tobytes(), length=16)


def git_commit() -> str:
    from innoscore import __version__
    from innoscore.paths import checkout_root

    root = checkout_root()
    if root is None:
        return f"innoscore-{__version__}"
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=5)
        commit = out.stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return (commit + ("-dirty" if dirty else "")) if commit else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _log_figures_and_report(figures: dict, folder: str, report_path: Path | None) -> None:
    """The whole JSON and, if written, the HTML report as artifacts of the active run, under `folder`."""
    import json
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{folder}.json"
        path.write_text(json.dumps(figures, indent=2, ensure_ascii=False), encoding="utf-8")
        mlflow.log_artifact(str(path), folder)
    if report_path is not None:
        mlflow.log_artifact(str(report_path), folder)


def log_what_if(result: dict, report_path: Path | None = None, experiment: str = "innoscore-policy") -> str:
    """Log a policy what-if (both policies' hashes, book figures, the whole JSON and the report) as one run."""
    exp_id = ensure_experiment(experiment)
    with mlflow.start_run(experiment_id=exp_id, run_name="policy-what-if") as run:
        mlflow.set_tags({"current_policy_hash": result["current"]["policy_hash"],
                         "proposed_policy_hash": result["proposed"]["policy_hash"],
                         "model": f"{result['model']['name']} v{result['model']['version']}"})
        mlflow.log_params({f"set.{k}": v for k, v in result.get("changes", {}).items()})
        for side in ("current", "proposed"):
            mlflow.log_metrics({f"{side}_{k}": v for k, v in result[side].items()
                                if isinstance(v, (int, float)) and not isinstance(v, bool)})
        _log_figures_and_report(result, "what_if", report_path)
        return run.info.run_id


def log_monitoring(result, report_path: Path | None = None, experiment: str = "innoscore-monitoring") -> str:
    """Log a monitoring run against the model version it checked: lights as tags, PSI and backtest
    figures as metrics, the JSON and the report as artifacts."""
    figures = result.to_dict()
    exp_id = ensure_experiment(experiment)
    model = figures["model"]
    with mlflow.start_run(experiment_id=exp_id, run_name=f"monitor-{model.get('name', 'model')}-v{model.get('version', '?')}") as run:
        mlflow.set_tags({"model_name": str(model.get("name", "")), "model_version": str(model.get("version", "")),
                         "light": figures["light"], **{f"light.{k}": v for k, v in figures["lights"].items()}})
        metrics = {"n_firms": figures["n_firms"], "n_outcomes": figures["n_outcomes"]}
        for row in figures["stability"]:
            if row["psi"] is not None:
                metrics[f"psi.{row['item']}"] = row["psi"]
        for row in figures["backtest"] or []:
            for key in ("observed_rate", "predicted_pd", "jeffreys_p", "binomial_p"):
                if row[key] is not None:
                    metrics[f"backtest.{row['grade']}.{key}"] = row[key]
        for section in ("calibration", "discrimination", "hosmer_lemeshow"):
            for key, value in (figures[section] or {}).items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    metrics[f"{section}.{key}"] = value
        mlflow.log_metrics(metrics)
        _log_figures_and_report(figures, "monitoring", report_path)
        return run.info.run_id
