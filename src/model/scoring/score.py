"""Score firm rows: validate against the catalogue, then the scored-firm record. One path for MLflow,
HTTP, batch and reports."""
from __future__ import annotations

import pandas as pd

from innoscore.features.catalogue import Catalogue
from innoscore.features.firm_columns import FirmColumns
from innoscore.features.validation import ValidationReport, validate_frame
from innoscore.model.scoring.interface import ScoringModel
from innoscore.model.scoring.record import record_arrays, scored_firms


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


def score_request(records: list[dict], model: ScoringModel, policy=None, extra: dict[str, type] | None = None
                  ) -> tuple[FirmColumns, dict]:
    """Already-valid records (a dict per firm, as the HTTP request model gives them) as
    `FirmColumns`, and their scored-firm records as arrays of Python objects, one per field (for the
    reply), without pandas. `extra`: loan fields and their types."""
    rows = FirmColumns.from_records(records, model.catalogue, extra)
    return rows, record_arrays(rows, model.score(rows), model, policy=policy, python_objects=True)


def score_frame(frame: pd.DataFrame, model: ScoringModel, validate: bool = True,
                with_explanations: bool = False, top_k: int = 5, policy=None) -> pd.DataFrame:
    """The scored-firm record of each row (validated first unless told the rows are already checked),
    with the credit decision when a policy is given."""
    rows = checked_frame(frame, model.catalogue) if validate else frame
    return scored_firms(rows, model.score(rows, with_explanations), model, top_k, policy)
