"""Where things live: one place that resolves the project's folders and default files."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = PROJECT_ROOT / "configs"
DEFAULT_CATALOGUE = CONFIG_DIR / "indicators.yaml"
DEFAULT_TRAINING_CONFIG = CONFIG_DIR / "training.yaml"
DEFAULT_SYNTHETIC_CONFIG = CONFIG_DIR / "synthetic.yaml"
MLRUNS_DIR = PROJECT_ROOT / "mlruns"


def tracking_uri() -> str:
    """MLflow tracking URI: ``MLFLOW_TRACKING_URI`` if set, else SQLite under ``mlruns/``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{MLRUNS_DIR / 'mlflow.db'}"
