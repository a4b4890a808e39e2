"""Where things live: the packaged configs, and the home of MLflow and BentoML stores.

The bottom of the dependency graph: every layer may import it, it imports no other innoscore module.
In a checkout the stores live in the project (`mlruns/`, `bentoml-home/`); an installed package
uses `INNOSCORE_HOME` (default `~/.innoscore`). `MLFLOW_TRACKING_URI` overrides the MLflow store.
"""
from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

HOME_ENV = "INNOSCORE_HOME"
CONFIG_DIR = Path(str(files("innoscore.configs")))
DEFAULT_CATALOGUE = CONFIG_DIR / "indicators.yaml"
DEFAULT_TRAINING_CONFIG = CONFIG_DIR / "training.yaml"
DEFAULT_SCORECARD_CONFIG = CONFIG_DIR / "scorecard.yaml"
DEFAULT_SERVING_CONFIG = CONFIG_DIR / "serving.yaml"
DEFAULT_SYNTHETIC_CONFIG = CONFIG_DIR / "synthetic.yaml"
DEFAULT_POLICY = CONFIG_DIR / "policy.yaml"
DEFAULT_MONITORING_CONFIG = CONFIG_DIR / "monitoring.yaml"


def checkout_root() -> Path | None:
    """The project checkout this code runs from, or None for an installed wheel."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "src" / "innoscore").is_dir() else None


def home() -> Path:
    """Where local stores go: INNOSCORE_HOME, else the checkout, else ~/.innoscore."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser().resolve()
    return checkout_root() or Path.home() / ".innoscore"


def mlruns_dir() -> Path:
    return home() / "mlruns"


def bentoml_home() -> Path:
    return home() / "bentoml-home"


def tracking_uri() -> str:
    """MLflow tracking URI: ``MLFLOW_TRACKING_URI`` if set, else SQLite under ``<home>/mlruns/``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{mlruns_dir() / 'mlflow.db'}"
