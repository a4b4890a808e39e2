"""Bring a registered MLflow version into the BentoML model store, labelled with where it came from."""
from __future__ import annotations

import os
from pathlib import Path

import bentoml

BENTO_MODEL_ENV = "INNOSCORE_BENTO_MODEL"
MODEL_URI_ENV = "INNOSCORE_MODEL_URI"          # the URI `innoscore serve` was asked for (an alias is followed)
# A built Bento names its model by this alias (bentofile `models:`); `innoscore serve` uses the env var.
BENTO_MODEL_ALIAS = "innoscore-served-model"
SERVICE_IMPORT_PATH = "innoscore.serving.service:InnoscoreService"


def default_bentoml_home() -> Path:
    from innoscore.paths import bentoml_home

    return bentoml_home()


def ensure_bentoml_home() -> str:
    """BENTOML_HOME, defaulting to the project's bentoml-home/ (not ~/bentoml)."""
    home = os.environ.setdefault("BENTOML_HOME", str(default_bentoml_home()))
    Path(home).mkdir(parents=True, exist_ok=True)
    return home


def served_model_tag() -> str:
    """The BentoML model to serve: INNOSCORE_BENTO_MODEL (`innoscore serve`); inside a built Bento
    (BentoML imports the service from the Bento's src/), the model its bento.yaml carries under
    BENTO_MODEL_ALIAS; else the alias itself, which `bentoml build` resolves from the bentofile."""
    if os.environ.get(BENTO_MODEL_ENV):
        return os.environ[BENTO_MODEL_ENV]
    manifest = Path.cwd().parent / "bento.yaml"
    if Path.cwd().name == "src" and manifest.is_file():
        import yaml

        for model in yaml.safe_load(manifest.read_text(encoding="utf-8")).get("models", []):
            if model.get("alias") == BENTO_MODEL_ALIAS:
                return str(model["tag"])
    return BENTO_MODEL_ALIAS


def _bento_name(registered_name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in registered_name).lower()


def import_registered_version(model_uri: str) -> bentoml.Model:
    """Import `model_uri` (models:/NAME@ALIAS or /VERSION) unless that exact version is already there."""
    from innoscore.model.tracking.registry import load_pd_model, resolve
    from innoscore.model.tracking.store import check_store, configure_mlflow

    ensure_bentoml_home()
    tracking = configure_mlflow(check_store())      # fails fast, in one line, on a missing or broken store
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
                "version_tags": version.tags, "aliases": list(version.aliases),
                "grade_labels": list(model.grade_scale.labels)}
    return bentoml.mlflow.import_model(name, version.uri, labels=labels, metadata=metadata)
