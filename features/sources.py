"""How far each firm's source indicators sit from the training population, per derived feature.

A feature derived from several indicators (a category sub-score sums their expert points, a ratio
divides two amounts) hands its SHAP contribution to them by each one's own deviation from the
training reference: the chain rule of `innoscore.model.explanation.contributions`. This module says
what a source's deviation is for each kind of feature, oriented so that a positive deviation raises
the feature:

- `category_points`: the indicator's expert points minus their training mean; the feature lowers
  the PD as it rises (its declared effect is -1), and each indicator can still move it by its room
  to the best and worst points of its bins;
- `ratio`: log(1 + numerator) minus its training mean, and the same of the denominator negated
  (log of a ratio = log numerator - log denominator); no declared effect.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from innoscore.features.derive import Derived, SourceGroup


@dataclass(frozen=True)
class SourceReference:
    """The training population's reference of every indicator (catalogue order)."""

    points_mean: np.ndarray
    points_min: np.ndarray      # the lowest and highest expert points seen in training
    points_max: np.ndarray
    log_mean: np.ndarray        # mean of log(1 + value) over known, non-negative values
    missing_bad: np.ndarray | None = None     # share missing as received among defaulted training firms
    missing_good: np.ndarray | None = None    # and among the others (reasons say missingness with them)

    @classmethod
    def of(cls, derived: Derived, y=None) -> "SourceReference":
        """The reference of training rows, from their `FeatureSet.derive` output (`y`: their outcomes)."""
        logged = _logged(derived.values)
        known = ~np.isnan(logged)
        log_mean = np.where(known.any(axis=0), np.nansum(logged, axis=0) / np.maximum(known.sum(axis=0), 1), 0.0)
        points = derived.points
        rates = (None, None)
        if y is not None:
            bad = np.asarray(y) == 1
            rates = tuple(derived.missing[rows].mean(axis=0) if rows.any() else np.full(points.shape[1], np.nan)
                          for rows in (bad, ~bad))
        return cls(points.mean(axis=0), points.min(axis=0), points.max(axis=0), log_mean, *rates)


@dataclass(frozen=True)
class SourceDeviations:
    """Features' sources for every firm: `deviation` (rows x [features x] sources) oriented to raise
    the feature; `effect` the declared sign of the features on the PD (0: none); `room_up` and
    `room_down` how far each source could still raise or lower it (None: unbounded); `mask` which
    sources are real (features of a group have different numbers of sources; None: all)."""

    positions: np.ndarray       # the sources' positions among the catalogue's indicators
    deviation: np.ndarray
    effect: int
    room_up: np.ndarray | None = None
    room_down: np.ndarray | None = None
    mask: np.ndarray | None = None


def _logged(values: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.log1p(np.where(values >= 0, values, np.nan))


def source_deviations(group: SourceGroup, derived: Derived, reference: SourceReference) -> SourceDeviations:
    """The deviations of a group's sources (rows x features x sources) for the rows of `derived`."""
    pos, mask = group.positions, group.mask
    if group.kind == "category_points":
        points = derived.points[:, pos]
        return SourceDeviations(pos, np.where(mask, points - reference.points_mean[pos], 0.0), -1,
                                np.where(mask, reference.points_max[pos] - points, 0.0),
                                np.where(mask, points - reference.points_min[pos], 0.0), mask)
    if group.kind == "ratio":
        dev = _logged(derived.values[:, pos]) - reference.log_mean[pos]
        dev[:, :, 1:] *= -1                    # a larger denominator lowers the ratio
        return SourceDeviations(pos, np.where(mask, np.nan_to_num(dev, nan=0.0), 0.0), 0, mask=mask)
    raise ValueError(f"features of kind {group.kind!r} have one source; they need no deviations")
