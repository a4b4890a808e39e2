"""Bring a registered MLflow version into the BentoML model store, labelled with where it came from."""
from __future__ import annotations

import os
from pathlib import Path

import bentoml

BENTO_MODEL_ENV = "INNOSCORE_BENTO_MODEL"


SERVICE_IMPORT_PATH = "innoscore.serving.service:InnoscoreService"


def default_bentoml_home() -> Path:
    from innoscore.paths import bentoml_home

    return bentoml_home()


def ensure_bentoml_home() -> str:
    """BENTOML_HOME, defaulting to the project's bentoml-home/ (not ~/bentoml)."""
    home = os.environ.setdefault("BENTOML_HOME", str(default_bentoml_home()))
    Path(home).mkdir(parents=True, exist_ok=True)
    return home


def _bento_name(registered_name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in registered_name).lower()


def import_registered_version(model_uri: str) -> bentoml.Model:
    """Import `model_uri` (models:/NAME@ALIAS or /VERSION) unless that exact version is already there."""
    from innoscore.model.tracking.registry import load_pd_model, resolve
    from innoscore.model.tracking.store import configure_mlflow

    ensure_bentoml_home()
    tracking = configure_mlflow()
    version = resolve(model_uri)
    labels = {"registered_name": version.name, "registered_version": version.version, "run_id": version.run_id}
    name = _bento_name(version.name)
    try:
        existing_models = bentoml.models.list(name)
    except bentoml.exceptions.NotFound:
        existing_models = []
    for existing in existing_models:
        if all(existing.info.labels.get(k) == v for k, v in labels.items()):
            return existing
    model, _ = load_pd_model(version.uri)
    metadata = {"model_uri": model_uri, "tracking_uri": tracking, "catalogue_json": model.catalogue.model_dump_json(),
                "version_tags": version.tags, "aliases": list(version.aliases)}
    return bentoml.mlflow.import_model(name, version.uri, labels=labels, metadata=metadata)
