"""The scored-firm record: the one builder of what HTTP, batch files, the MLflow pyfunc and reports say
about a scored firm. A new output field is added here, in `record_fields` and `scored_firms`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from innoscore.features.firm_columns import column_array, missing_mask
from innoscore.model.arrays import coded_labels, masked_lists
from innoscore.model.decision.decide import decision_arrays, decision_fields
from innoscore.model.decision.policy import Policy
from innoscore.model.scoring.interface import Scores, ScoringModel

TOP_RISK_FIELDS = ("top_risk_indicators", "top_risk_contributions")


def record_fields(model: ScoringModel, with_explanations: bool = False,
                  with_decision: bool = False) -> list[tuple[str, pa.DataType]]:
    """The record's columns and Arrow types, in order (batch files and the pyfunc signature use them)."""
    cat = model.catalogue
    fields = [(cat.dataset.firm_id_column, pa.string()), ("pd", pa.float64()), ("grade", pa.string()),
              ("grade_zh", pa.string()), ("grade_en", pa.string()), ("expert_score", pa.float64()),
              *((f"expert_{c}", pa.float64()) for c in cat.category_ids),
              ("missing_indicators", pa.list_(pa.string()))]
    if with_explanations:
        fields += [*((f"contribution_{c}", pa.float64()) for c in cat.category_ids),
                   (TOP_RISK_FIELDS[0], pa.list_(pa.string())), (TOP_RISK_FIELDS[1], pa.list_(pa.float64()))]
    if with_decision:
        fields += decision_fields()
    return fields


def record_dicts(columns: dict[str, np.ndarray]) -> list[dict]:
    """The record's columns as one dict per firm (list columns as Python lists): what HTTP replies are
    built from, without a DataFrame in between."""
    names = list(columns)
    return [dict(zip(names, values)) for values in zip(*(columns[n] for n in names))]


def record_schema(model: ScoringModel, with_explanations: bool = False, with_decision: bool = False) -> pa.Schema:
    return pa.schema(record_fields(model, with_explanations, with_decision))


def top_risk(contributions: np.ndarray, indicator_ids: list[str], top_k: int, least: float = 0.0,
             python_objects: bool = False) -> dict[str, np.ndarray]:
    """The k indicators raising each firm's PD most (contributions above `least`, at least 0), as
    list columns."""
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :top_k]
    top = np.take_along_axis(contributions, order, axis=1)
    names, values = masked_lists(top > max(least, 0.0), indicator_ids, codes=order, values=top,
                                 python_objects=python_objects)
    return dict(zip(TOP_RISK_FIELDS, (names, values)))


def scored_firms(rows: pd.DataFrame, scores: Scores, model: ScoringModel, top_k: int = 5,
                 policy: Policy | None = None) -> pd.DataFrame:
    """The scored-firm record of each row as a frame (positional: index 0..n-1); see `record_arrays`."""
    return pd.DataFrame(record_arrays(rows, scores, model, top_k, policy))


def record_arrays(rows, scores: Scores, model: ScoringModel, top_k: int = 5,
                  policy: Policy | None = None, python_objects: bool = False) -> dict[str, np.ndarray]:
    """One record per validated row (`rows`: a DataFrame or `features.firm_columns.FirmColumns`), as
    arrays, one per field: id, PD, grade (code, zh, en), expert points, missing indicators, with explanations the
    category contributions and the top-k risk-raising indicators, and with a policy the credit
    decision (innoscore.model.decision.decide: outcome, limit, reasons). Labels are categoricals and
    lists Arrow arrays at any size; `python_objects` (an HTTP reply): Python strings and lists."""
    cat, scale = model.catalogue, model.grade_scale
    position = scale.positions(scores.pd)             # the grades' places in the scale, as `grade` assigned them
    ids = cat.indicator_ids
    missing = scores.missing
    if missing is None:
        missing = (np.column_stack([missing_mask(column_array(rows, c)) for c in ids]) if ids
                   else np.zeros((len(rows), 0), bool))
    expert = scores.expert_points
    out = {cat.dataset.firm_id_column: scores.firm_ids if scores.firm_ids is not None
           else rows.index.astype(str).to_numpy(),
           "pd": scores.pd, "grade": coded_labels(position, tuple(scale.labels), python_objects),
           "grade_zh": coded_labels(position, tuple(g.zh for g in scale.grades), python_objects),
           "grade_en": coded_labels(position, tuple(g.en for g in scale.grades), python_objects),
           "expert_score": expert["total"], **{f"expert_{c}": expert[c] for c in cat.category_ids},
           "missing_indicators": masked_lists(missing, ids, python_objects=python_objects)[0]}
    expl = scores.explanations
    if expl is not None:
        out.update({f"contribution_{c}": expl.per_category[:, k] for k, c in enumerate(expl.category_ids)})
        out.update(top_risk(expl.per_indicator, ids, top_k, cat.explanations.min_contribution, python_objects))
    if policy is not None:
        out.update(decision_arrays(scores.pd, scores.expert_points, rows, cat, policy, python_objects))
    return out
