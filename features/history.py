"""The bank's past decisions on a synthetic portfolio: which applicants were booked, so that outcomes
exist only for them (docs/reject-inference.md).

The default history is the hand-weighted expert scorecard with a cut-off (the lowest
`decline_share` of expert totals declined) and knock-out rules, as a branch without a model would
have decided. A declined applicant keeps its true PD and outcome in the truth file only: the data
says `booked: false` and has no outcome for it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import Field

from innoscore.features.catalogue import Catalogue
from innoscore.features.conditions import Condition, holds_any
from innoscore.features.expert_points import expert_points_array
from innoscore.features.firm_columns import column_array
from innoscore.features.validation import validate_frame
from innoscore.settings import Settings, load_settings

BOOKED_COLUMN = "booked"
OUTCOME_PREFIX = "truth_outcome"       # the truth file's outcome of every applicant, booked or not


class HistoryPolicy(Settings):
    """How the bank decided before (configs/history.yaml)."""
    decline_share: float = Field(0.3, ge=0, lt=1)    # the lowest expert totals declined
    knock_outs: list[Condition] = []

    @classmethod
    def load(cls, name_or_path: str | Path = "expert") -> "HistoryPolicy":
        """`expert` (configs/history.yaml) or a file of the same form."""
        from innoscore.paths import CONFIG_DIR

        path = CONFIG_DIR / "history.yaml" if str(name_or_path) == "expert" else Path(name_or_path)
        return load_settings(cls, path)


def booked(data, catalogue: Catalogue, history: HistoryPolicy) -> np.ndarray:
    """Which applicants the past policy booked: expert total above the cut-off, no knock-out."""
    total = expert_points_array(data, catalogue).sum(axis=1)
    cutoff = np.quantile(total, history.decline_share) if history.decline_share > 0 else -np.inf
    return (total > cutoff) & ~holds_any(data, history.knock_outs, _numbers)     # a missing value fires no rule


def _numbers(data, column: str) -> np.ndarray:
    return np.asarray(column_array(data, column), dtype=float)


def previously_declined(rows) -> np.ndarray | None:
    """Which firms the bank's past policy declined, from the data's `booked` column (None without
    one); a missing entry counts as booked."""
    if BOOKED_COLUMN not in rows:
        return None
    try:
        return ~rows[BOOKED_COLUMN].astype("boolean").fillna(True).to_numpy(dtype=bool)
    except (TypeError, ValueError):
        raise ValueError(f"column {BOOKED_COLUMN!r} must hold true/false (or 1/0) / {BOOKED_COLUMN} 列须为 true/false") from None


def declined_applicants(data, catalogue: Catalogue):
    """The booked applicants and the declined ones (`booked` false, no outcome: what reject inference
    learns from, the target column dropped), or all rows and None where the data has no `booked` or
    no target column."""
    target = catalogue.dataset.target_column
    if BOOKED_COLUMN not in data or target not in data:
        return data, None
    declined = previously_declined(data) & data[target].isna().to_numpy()
    return data[~declined].reset_index(drop=True), data[declined].drop(columns=[target]).reset_index(drop=True)


def validated_applicants(data, catalogue: Catalogue, require_target: bool = False):
    """`declined_applicants`, each part checked against the catalogue (a declined applicant has no
    outcome to check): booked rows, declined rows (or None) and one report of both."""
    booked_rows, declined = declined_applicants(data, catalogue)
    booked_rows, report = validate_frame(booked_rows, catalogue, require_target=require_target)
    if declined is not None:
        declined, more = validate_frame(declined, catalogue)
        report.problems += more.problems
    return booked_rows, declined, report


def with_history(portfolio, catalogue: Catalogue, history: HistoryPolicy):
    """The portfolio as the bank saw it: a `booked` column, the outcome only where booked (missing
    elsewhere), every applicant's outcome kept in the truth (`truth_outcome`)."""
    from innoscore.features.synthetic import SyntheticPortfolio

    data, truth = portfolio.data.copy(), portfolio.true_contributions.copy()
    target = catalogue.dataset.target_column
    took = booked(data, catalogue, history)
    truth[OUTCOME_PREFIX] = data[target].to_numpy()
    data[BOOKED_COLUMN] = took
    data[target] = data[target].astype("Int8").where(took)
    return SyntheticPortfolio(data=data, true_contributions=truth)
