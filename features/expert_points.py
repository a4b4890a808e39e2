"""The bank's expert scorecard points, in one place: per indicator, for every indicator at once, per
category.

`expert_points` scores one indicator (its bins, or its levels' points); `ExpertPointsTable` scores
all binned indicators in one vectorised comparison (the two give the same points, tested);
`category_point_arrays` sums them within each category. Feature derivation, the expert scorecard
estimator and the simulated past policy all read points from here.
"""
from __future__ import annotations

import numpy as np

from innoscore.features.catalogue import Catalogue, Indicator, MissingMeaning
from innoscore.features.firm_columns import column_array
from innoscore.speed import per_object, request_sized


def expert_points(indicator: Indicator, values: np.ndarray) -> np.ndarray:
    """Points the expert scorecard awards for each value; missing earns 0 unless missing means zero."""
    values = np.asarray(values)
    if not indicator.has_expert_points:
        return np.zeros(len(values))
    if indicator.type == "categorical":
        table = indicator.level_points
        out = np.array([table.get(str(v), 0.0) for v in values], dtype=float)
        return out
    x = values.astype(float, copy=False)
    if indicator.missing is MissingMeaning.zero:
        x = np.where(np.isnan(x), 0.0, x)
    # Bin index = how many thresholds the value reaches; a few vectorised comparisons beat a
    # binary search for tables of 2-6 bins (NaN reaches none and is zeroed below).
    idx = np.zeros(len(x), dtype=np.intp)
    for threshold in indicator.bins.thresholds:
        idx += x >= threshold
    pts = np.asarray(indicator.bins.points, dtype=float)[np.minimum(idx, len(indicator.bins.points) - 1)]
    return np.where(np.isnan(x), 0.0, pts)


class ExpertPointsTable:
    """The expert scorecard's bins of every binned indicator as one padded threshold matrix, so that
    all indicators are scored in one vectorised comparison. Beyond a request's rows a binary search
    per indicator replaces the comparison with every threshold (a third of batch derivation time)."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue
        inds = catalogue.indicators
        self.binned = np.array([j for j, i in enumerate(inds) if i.bins is not None and i.type != "categorical"], int)
        binned = set(self.binned.tolist())
        self.others = [j for j, i in enumerate(inds) if i.has_expert_points and j not in binned]
        width = max((len(inds[j].bins.thresholds) for j in self.binned), default=0)
        self.thresholds = np.full((len(self.binned), width), np.inf)
        self.points = np.zeros((len(self.binned), width + 1))
        for row, j in enumerate(self.binned):
            t, p = inds[j].bins.thresholds, inds[j].bins.points
            self.thresholds[row, :len(t)] = t
            self.points[row, :len(p)] = p
            self.points[row, len(p):] = p[-1]
        self.zero_filled = np.array([inds[j].missing is MissingMeaning.zero for j in self.binned], bool)
        self.rows = np.arange(len(self.binned))

    def score(self, data, values: np.ndarray | None = None) -> np.ndarray:
        """Points for every indicator (rows x indicators, catalogue order). `values`: the indicators as
        floats in catalogue order if known (`FeatureSet.indicator_array`; missing-means-zero filled)."""
        out = np.zeros((len(data), len(self.catalogue.indicators)), order="F")
        if len(self.binned):
            if values is None:
                x = np.column_stack([column_array(data, self.catalogue.indicators[j].id) for j in self.binned])
                x = x.astype(float)
                x[:, self.zero_filled] = np.nan_to_num(x[:, self.zero_filled], nan=0.0)
            else:
                x = values[:, self.binned]
            if request_sized(len(x)):             # one comparison for all indicators
                idx = (x[:, :, None] >= self.thresholds[None, :, :]).sum(axis=2)      # NaN reaches no threshold
                pts = self.points[self.rows, idx]                   # each indicator's points of its bin
                out[:, self.binned] = np.where(np.isnan(x), 0.0, pts)
            else:                                 # a batch: a binary search per indicator (thresholds increase)
                for r, j in enumerate(self.binned):
                    idx = np.searchsorted(self.thresholds[r], x[:, r], side="right")   # NaN sorts past them all
                    out[:, j] = np.where(np.isnan(x[:, r]), 0.0, self.points[r][idx])
        for j in self.others:
            ind = self.catalogue.indicators[j]
            out[:, j] = expert_points(ind, column_array(data, ind.id))
        return out


@per_object
def expert_points_table(catalogue: Catalogue) -> ExpertPointsTable:
    """The catalogue's table, built once per catalogue object (scoring runs per request)."""
    return ExpertPointsTable(catalogue)


def expert_points_array(data, catalogue: Catalogue) -> np.ndarray:
    """The expert scorecard's points for every indicator, one column each in catalogue order."""
    return expert_points_table(catalogue).score(data)


def category_point_arrays(data, catalogue: Catalogue, points: np.ndarray | None = None,
                          totals: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Expert points in total and per category (0..max points), one value per firm: "total", then the
    categories in catalogue order. `points` and `totals` (from `features.derive.Derived`) save
    computing them again."""
    if points is None:
        points = expert_points_array(data, catalogue)
    if totals is None:
        totals = catalogue.category_totals(points)
    return {"total": points.sum(axis=1), **totals}
