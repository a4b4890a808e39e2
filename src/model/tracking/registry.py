"""The MLflow model registry: register versions, move aliases, resolve and load a version."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

if TYPE_CHECKING:       # loading a model needs it; moving an alias does not (and would import sklearn)
    from innoscore.model.scoring.interface import ScoringModel


class RegistryError(ValueError):
    """A model name, version, alias or URI that the registry cannot resolve."""


@dataclass(frozen=True)
class ResolvedVersion:
    name: str
    version: str
    run_id: str
    aliases: tuple[str, ...]
    tags: dict
    uri: str


def promote(name: str, version: str | int, alias: str = "champion") -> ResolvedVersion:
    """Point `alias` at `version` of registered model `name` (the alias moves, nothing is copied)."""
    client = MlflowClient()
    try:
        client.get_model_version(name, str(version))
    except MlflowException as exc:
        raise RegistryError(f"registered model '{name}' has no version {version}: {_short(exc)}") from None
    client.set_registered_model_alias(name, alias, str(version))
    return resolve(f"models:/{name}@{alias}")


def resolve(uri: str) -> ResolvedVersion:
    """Resolve `models:/NAME@ALIAS` or `models:/NAME/VERSION` to a registered version."""
    client = MlflowClient()
    if not uri.startswith("models:/"):
        raise RegistryError(f"model URI must look like models:/NAME@ALIAS or models:/NAME/VERSION, got '{uri}'")
    body = uri.removeprefix("models:/")
    try:
        if "@" in body:
            name, alias = body.split("@", 1)
            mv = client.get_model_version_by_alias(name, alias)
        else:
            name, version = body.rsplit("/", 1)
            mv = client.get_model_version(name, version)
    except (MlflowException, ValueError) as exc:
        raise RegistryError(f"model URI '{uri}' does not resolve: {_short(exc)}") from None
    return ResolvedVersion(name=mv.name, version=str(mv.version), run_id=mv.run_id,
                           aliases=tuple(getattr(mv, "aliases", ()) or ()), tags=dict(mv.tags or {}),
                           uri=f"models:/{mv.name}/{mv.version}")


def load_pd_model(uri: str) -> tuple[ScoringModel, ResolvedVersion]:
    """Load a registered innoscore model; returns (ScoringModel, ResolvedVersion).

    A logged model carries a copy of the innoscore package (code_paths) for environments without it
    installed; here innoscore is already imported, so unpickling resolves to the installed package.
    """
    version = resolve(uri)
    search_path = list(sys.path)
    try:
        pyfunc = mlflow.pyfunc.load_model(version.uri)
    except MlflowException as exc:
        raise RegistryError(f"cannot load model '{uri}': {_short(exc)}") from None
    finally:
        # MLflow puts the model's code copies first on sys.path; processes started from here
        # (Dask workers) would then import those instead of the installed packages.
        sys.path[:] = search_path
    return pyfunc.unwrap_python_model().model, version


def _short(exc: Exception) -> str:
    return str(getattr(exc, "message", exc)).splitlines()[0][:200]
