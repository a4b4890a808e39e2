"""The model interface: all that scoring, serving, reports, batch and the CLI use of a PD model.

A `ScoringModel` is a fitted innoscore estimator with what it is served with: its catalogue, the
master scale, its kind and the reference profile of its training population. It has one PD path
and one grade path; contributions come from models that support them (LightGBM), and asking a
scorecard for them is a clear error, not a crash.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from innoscore.features.catalogue import Catalogue
from innoscore.features.firm_columns import text_array
from innoscore.model.arrays import column_labels
from innoscore.features.expert_points import category_point_arrays
from innoscore.model.explanation.contributions import Explanations, explain
from innoscore.model.grades import GradeScale
from innoscore.model.scoring.reference import ReferenceProfile


class ContributionsUnavailable(ValueError):
    """The model has no per-indicator contributions (a scorecard): explanations cannot be given."""


@dataclass
class Scores:
    """Everything said about a batch of validated firms, row for row (see scoring.record for the output)."""

    firm_ids: np.ndarray | pd.api.extensions.ExtensionArray | None     # text (features.firm_columns.text_array)
    pd: np.ndarray
    grades: np.ndarray
    expert_points: dict[str, np.ndarray]     # expert scorecard points: "total" and one column per category
    index: pd.Index                         # the scored rows' index
    explanations: Explanations | None = None
    missing: np.ndarray | None = None       # rows x indicators: missing as received (None: not derived)

    @cached_property
    def expert(self) -> pd.DataFrame:
        """`expert_points` as a frame on the rows' index, built when asked (a request's scoring never
        needs it: a frame costs more than the rest of a firm's expert points)."""
        return pd.DataFrame(self.expert_points, index=self.index, columns=column_labels(tuple(self.expert_points)))


@dataclass
class ScoringModel:
    estimator: object
    catalogue: Catalogue
    grade_scale: GradeScale
    kind: str
    reference: ReferenceProfile | None = None

    @property
    def has_contributions(self) -> bool:
        return bool(getattr(self.estimator, "supports_contributions", False))

    @property
    def peer_quantiles(self) -> pd.DataFrame:
        """The training population's 101 quantiles of each indicator (index 0..1)."""
        if self.reference is None:
            raise ValueError(f"the {self.kind} model was stored without a reference profile")
        return self.reference.indicator_quantiles

    @property
    def reject_inference(self) -> dict:
        """How declined applicants entered the model's training: `method` and `n_declined`, the
        declined applicants of its training window (none, 0: its data had none)."""
        return getattr(self.estimator, "reject_inference_", None) or {"method": "none", "n_declined": 0}

    def grade(self, pd_values) -> np.ndarray:
        return self.grade_scale.assign(pd_values)

    def predict_pd(self, rows: pd.DataFrame) -> np.ndarray:
        return self.estimator.predict_pd(rows)

    def explain(self, rows: pd.DataFrame, derived=None) -> Explanations:
        if not self.has_contributions:
            raise ContributionsUnavailable(
                f"the {self.kind} model has no per-indicator contributions; explanations need a LightGBM PD model "
                f"/ 该模型不提供指标贡献，无法解释")
        return explain(self.estimator, rows, derived=derived)

    def score(self, rows: pd.DataFrame, with_explanations: bool = False) -> Scores:
        """PD, grade and expert points of validated rows (and explanations if asked), from one pass."""
        derived = self.estimator.derive(rows)
        explanations = None
        if with_explanations:
            explanations = self.explain(rows, derived)
            pd_values = explanations.pd
        else:
            pd_values = self.estimator.predict_pd_derived(rows, derived)
        id_col = self.catalogue.dataset.firm_id_column
        ids = text_array(rows, id_col) if id_col in rows else None
        computed = () if derived is None else (derived.points, derived.category_totals)
        points = category_point_arrays(rows, self.catalogue, *computed)
        return Scores(ids, pd_values, self.grade(pd_values), points, rows.index, explanations,
                      derived.missing if derived is not None else None)
