"""The MLflow model: any MLflow consumer calling `predict` gets the scored-firm record our own code gives.

Logged as models-from-code (`pyfunc_code.py`), not a cloudpickled object: the fitted `ScoringModel`
is a joblib artifact, the innoscore package travels as code, and the requirements pin, at the
versions of the lock, every distribution that the package's code imports (checked by
tests/test_packaging.py), so the model loads in an environment built from them alone
(`mlflow models serve --env-manager virtualenv`).
"""
from __future__ import annotations

import shutil
import tempfile
from importlib import import_module
from importlib.metadata import version
from pathlib import Path

import joblib
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel
from mlflow.types import ColSpec, DataType, Schema
from mlflow.types.schema import AnyType, Array

from innoscore.model.scoring.interface import ScoringModel
from innoscore.model.scoring.record import record_fields
from innoscore.model.scoring.score import score_frame

MODEL_CODE = Path(__file__).with_name("pyfunc_code.py")
SCORING_MODEL_ARTIFACT = "scoring_model"
# Distributions the innoscore code reachable from the pyfunc imports (directly, not their own dependencies).
MODEL_DISTRIBUTIONS = ("mlflow", "numpy", "pandas", "pyarrow", "scipy", "scikit-learn", "lightgbm", "optbinning",
                       "shap", "pandera", "pydantic", "pyyaml", "joblib")
# The innoscore subpackages a model needs; each is copied whichever folder it is installed from.
_MODEL_SUBPACKAGES = ("configs", "features", "model")


class PDModel(PythonModel):
    """Loads the ScoringModel artifact; `predict` validates the rows (InvalidFirmData names firm and field)."""

    def load_context(self, context) -> None:
        self.model: ScoringModel = joblib.load(context.artifacts[SCORING_MODEL_ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return score_frame(pd.DataFrame(model_input), self.model)


def model_requirements() -> list[str]:
    """`name==version` of each distribution in MODEL_DISTRIBUTIONS, as installed (from the lock)."""
    return [f"{name}=={version(name)}" for name in MODEL_DISTRIBUTIONS]


def package_code_dir(dest: Path) -> Path:
    """Lay out the innoscore package the model needs under `dest/innoscore` (from a checkout or a wheel)."""
    root = dest / "innoscore"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    base = Path(import_module("innoscore").__file__).parent
    root.mkdir(parents=True)
    for f in ("__init__.py", "paths.py"):
        shutil.copy2(base / f, root / f)
    for name in _MODEL_SUBPACKAGES:
        shutil.copytree(Path(import_module(f"innoscore.{name}").__file__).parent, root / name, ignore=ignore)
    return root


def model_signature(model: ScoringModel) -> ModelSignature:
    """Indicator inputs are typed `Any`: MLflow would refuse integer JSON for a double column, and the
    catalogue's own validation (inside `predict`) is the one place that checks types and ranges."""
    catalogue = model.catalogue
    cols = [ColSpec("string", catalogue.dataset.firm_id_column, required=False)]
    cols += [ColSpec(AnyType(), i.id, required=False) for i in catalogue.indicators]
    kinds = {"string": DataType.string, "double": DataType.double}
    out = [ColSpec(Array(DataType.string) if str(t).startswith("list") else kinds[str(t)], name)
           for name, t in record_fields(model)]
    return ModelSignature(inputs=Schema(cols), outputs=Schema(out))


def input_example(data: pd.DataFrame, catalogue, n: int = 3) -> pd.DataFrame:
    cols = [catalogue.dataset.firm_id_column, *catalogue.indicator_ids]
    example = data[cols].head(n).copy()
    for ind in catalogue.indicators:
        if ind.type != "categorical":
            example[ind.id] = example[ind.id].astype(float)
    example[catalogue.dataset.firm_id_column] = example[catalogue.dataset.firm_id_column].astype(str)
    return example


def log_pd_model(model: ScoringModel, example: pd.DataFrame, registered_name: str | None = None):
    """Log `model` to the active run as `model/` (and register it as `registered_name` if given)."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        artifact = Path(tmp) / "scoring_model.joblib"
        joblib.dump(model, artifact)
        return mlflow.pyfunc.log_model(
            name="model", python_model=str(MODEL_CODE), artifacts={SCORING_MODEL_ARTIFACT: str(artifact)},
            code_paths=[str(package_code_dir(Path(tmp) / "code"))], signature=model_signature(model),
            input_example=example, pip_requirements=model_requirements(), registered_model_name=registered_name)
