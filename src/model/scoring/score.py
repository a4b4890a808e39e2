"""Score firm rows: validate against the catalogue, then PD and grade. One path for MLflow, HTTP and batch."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from innoscore.features.catalogue import Catalogue
from innoscore.features.validation import ValidationReport, validate_frame
from innoscore.model.estimators.expert_scorecard import category_points
from innoscore.model.explanation.contributions import Explanations, explain
from innoscore.model.grades import GradeScale


class InvalidFirmData(ValueError):
    """Firm rows that break the catalogue's rules; `report` names each firm, field and problem."""

    def __init__(self, report: ValidationReport):
        super().__init__(report.to_text(max_listed=20))
        self.report = report


def checked_frame(frame: pd.DataFrame, catalogue: Catalogue) -> pd.DataFrame:
    """The rows with types coerced, or InvalidFirmData if any row breaks the catalogue's rules."""
    coerced, report = validate_frame(pd.DataFrame(frame), catalogue)
    if not report.ok:
        raise InvalidFirmData(report)
    return coerced


@dataclass
class Scores:
    """Everything a reply or an output file says about a batch of validated firms, row for row."""

    firm_ids: np.ndarray
    pd: np.ndarray
    grades: np.ndarray
    expert: pd.DataFrame        # expert scorecard points: total and one column per category
    explanations: Explanations | None = None


def score_rows(rows: pd.DataFrame, estimator, catalogue: Catalogue, grade_scale: GradeScale,
               with_explanations: bool = False) -> Scores:
    """PD, grade and expert points of validated rows, and SHAP explanations if asked.

    For LightGBM the rows' features, expert points and PD come from one pass (`FeatureSet.derive`),
    which is what keeps batch scoring close to the bare booster's speed.
    """
    feature_set = getattr(estimator, "feature_set_", None)
    derived = feature_set.derive(rows) if feature_set is not None else None
    explanations = None
    if with_explanations:
        if derived is None:
            raise ValueError(f"explanations need a LightGBM PD model, not {type(estimator).__name__}")
        explanations = explain(estimator, rows, derived=derived)
        pd_values = explanations.pd
    elif derived is not None:
        pd_values = estimator.calibrate(estimator.raw_log_odds(derived.matrix))
    else:
        pd_values = estimator.predict_pd(rows)
    id_col = catalogue.dataset.id_column
    ids = rows[id_col].astype(str).to_numpy() if id_col in rows else None
    points = category_points(rows, catalogue, derived.points if derived is not None else None)
    return Scores(ids, pd_values, grade_scale.assign(pd_values), points, explanations)


def score_frame(frame: pd.DataFrame, estimator, catalogue: Catalogue, grade_scale: GradeScale,
                validate: bool = True) -> pd.DataFrame:
    """Firm id (when given), PD and grade for each row."""
    rows = checked_frame(frame, catalogue) if validate else frame
    scores = score_rows(rows, estimator, catalogue, grade_scale)
    out = pd.DataFrame({"pd": scores.pd, "grade": scores.grades}, index=rows.index)
    if scores.firm_ids is not None:
        out.insert(0, catalogue.dataset.id_column, scores.firm_ids)
    return out
