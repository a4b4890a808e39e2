"""Score firm rows: validate against the catalogue, then PD and grade. One path for MLflow, HTTP and batch."""
from __future__ import annotations

import pandas as pd

from features.catalogue import Catalogue
from features.validation import ValidationReport, validate_frame
from model.grades import GradeScale


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


def score_frame(frame: pd.DataFrame, estimator, catalogue: Catalogue, grade_scale: GradeScale,
                validate: bool = True) -> pd.DataFrame:
    """Firm id (when given), PD and grade for each row."""
    rows = checked_frame(frame, catalogue) if validate else frame
    pd_values = estimator.predict_pd(rows)
    out = pd.DataFrame({"pd": pd_values, "grade": grade_scale.assign(pd_values)}, index=rows.index)
    id_col = catalogue.dataset.id_column
    if id_col in rows:
        out.insert(0, id_col, rows[id_col].astype(str).to_numpy())
    return out
