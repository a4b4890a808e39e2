"""The MLflow model: any MLflow consumer calling `predict` gets the PD and grade our own code gives."""
from __future__ import annotations

import pandas as pd
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel
from mlflow.types import ColSpec, Schema
from mlflow.types.schema import AnyType

from innoscore.features.catalogue import Catalogue
from innoscore.model.grades import GradeScale
from innoscore.model.scoring.score import score_frame


class PDModel(PythonModel):
    """Wraps a fitted innoscore estimator; `predict` returns firm id (if given), pd and grade."""

    def __init__(self, estimator, catalogue: Catalogue, grade_scale: GradeScale, kind: str):
        self.estimator = estimator
        self.catalogue = catalogue
        self.grade_scale = grade_scale
        self.kind = kind

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        """Validates the rows with the catalogue (raising InvalidFirmData naming firm and field), then scores."""
        return score_frame(pd.DataFrame(model_input), self.estimator, self.catalogue, self.grade_scale)


def model_signature(catalogue: Catalogue) -> ModelSignature:
    """Indicator inputs are typed `Any`: MLflow would refuse integer JSON for a double column, and the
    catalogue's own validation (inside `predict`) is the one place that checks types and ranges."""
    cols = [ColSpec("string", catalogue.dataset.id_column, required=False)]
    cols += [ColSpec(AnyType(), i.id, required=False) for i in catalogue.indicators]
    out = [ColSpec("string", catalogue.dataset.id_column, required=False), ColSpec("double", "pd"),
           ColSpec("string", "grade")]
    return ModelSignature(inputs=Schema(cols), outputs=Schema(out))


def input_example(data: pd.DataFrame, catalogue: Catalogue, n: int = 3) -> pd.DataFrame:
    cols = [catalogue.dataset.id_column, *catalogue.indicator_ids]
    example = data[cols].head(n).copy()
    for ind in catalogue.indicators:
        if ind.type != "categorical":
            example[ind.id] = example[ind.id].astype(float)
    example[catalogue.dataset.id_column] = example[catalogue.dataset.id_column].astype(str)
    return example
