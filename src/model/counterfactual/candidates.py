"""Where an indicator's change can matter: the values a search needs to try.

A tree ensemble's output changes only when a value crosses one of its split thresholds, and the
expert scorecard's only when it crosses a bin threshold; values in between are the same to the
model. So each actionable indicator gets, as candidates, the points just past each threshold in its
feasible direction, within its bounds, on its step, and within the training population's range
(1st to 99th percentile: "add 2,000 patents" is not advice).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from innoscore.features.catalogue import Catalogue, Indicator, MissingMeaning

_NUDGE = 1e-6        # past a threshold: LightGBM sends value <= threshold left


def lightgbm_thresholds(estimator, catalogue: Catalogue) -> dict[str, np.ndarray]:
    """Split thresholds of a fitted LightGBMPD, mapped back to indicator values for features that are
    an indicator itself or its log; ratios are handled per firm (`ratio_thresholds`)."""
    feature_set = estimator.feature_set_
    per_feature: dict[int, list[float]] = {}

    def walk(node: dict) -> None:
        if "split_feature" in node:
            per_feature.setdefault(node["split_feature"], []).append(float(node["threshold"]))
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in estimator.booster_.dump_model(num_iteration=estimator.best_iteration_)["tree_info"]:
        walk(tree["tree_structure"])
    out: dict[str, list[float]] = {i: [] for i in catalogue.indicator_ids}
    for k, values in per_feature.items():
        f = feature_set.features[k]
        if f.kind == "indicator":
            out[f.sources[0]].extend(values)
        elif f.kind == "log":
            out[f.sources[0]].extend(np.expm1(values))
    return {i: np.unique(v) for i, v in out.items()}


def ratio_thresholds(estimator) -> list[tuple[str, str, np.ndarray]]:
    """(numerator, denominator, thresholds) of each ratio feature the trees split on."""
    feature_set = estimator.feature_set_
    found: dict[int, list[float]] = {}

    def walk(node: dict) -> None:
        if "split_feature" in node:
            if feature_set.features[node["split_feature"]].kind == "ratio":
                found.setdefault(node["split_feature"], []).append(float(node["threshold"]))
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in estimator.booster_.dump_model(num_iteration=estimator.best_iteration_)["tree_info"]:
        walk(tree["tree_structure"])
    return [(feature_set.features[k].sources[0], feature_set.features[k].sources[1], np.unique(v))
            for k, v in found.items()]


@dataclass(frozen=True)
class IndicatorSpace:
    """What a search may do with one indicator: direction, range, step, cost scale, thresholds."""

    indicator: Indicator
    low: float
    high: float
    step: float | None
    spread: float            # the reference's 10th-90th percentile distance: one unit of cost
    thresholds: np.ndarray

    def candidates(self, x0: float, extra: np.ndarray | None = None, limit: int = 8) -> np.ndarray:
        """Values past each threshold in the feasible direction from `x0` (nearest first, at most
        `limit`, spread over the range when there are more)."""
        direction = self.indicator.feasible_direction
        t = self.thresholds if extra is None else np.concatenate([self.thresholds, extra])
        values = []
        if direction in ("increase", "either"):
            up = t[t >= x0]
            values.append(self._snap_up(up))
            values.append([self.high])
        if direction in ("decrease", "either"):
            down = t[t < x0]
            values.append(self._snap_down(down))
            values.append([self.low])
        v = np.unique(np.concatenate([np.asarray(a, dtype=float) for a in values])) if values else np.array([])
        v = v[(v >= self.low) & (v <= self.high) & (v != x0)]
        if direction == "increase":
            v = v[v > x0]
        elif direction == "decrease":
            v = v[v < x0]
        if len(v) > limit:
            order = v[np.argsort(np.abs(v - x0), kind="stable")]
            keep = np.unique(np.round(np.linspace(0, len(order) - 1, limit)).astype(int))
            v = order[keep]
        return np.sort(v)

    def _snap_up(self, t: np.ndarray) -> np.ndarray:
        """The first value past each threshold (values <= t are on the other side)."""
        if self.step:
            return (np.floor(t / self.step) + 1) * self.step
        return t + _NUDGE * np.maximum(1.0, np.abs(t))

    def _snap_down(self, t: np.ndarray) -> np.ndarray:
        if self.step:
            return np.floor(t / self.step) * self.step
        return t

    def cost(self, x0: float, value) -> np.ndarray:
        return self.indicator.action.cost * np.abs(np.asarray(value, dtype=float) - x0) / self.spread


def indicator_spaces(catalogue: Catalogue, quantiles: pd.DataFrame, thresholds: dict[str, np.ndarray]
                     ) -> dict[str, IndicatorSpace]:
    """The space of each actionable indicator: bounds narrowed to the reference's 1st-99th
    percentile, thresholds of the model and of the expert bins, ordinal levels."""
    spaces = {}
    for ind in catalogue.indicators:
        if ind.feasible_direction is None or ind.id not in quantiles:
            continue
        q = quantiles[ind.id]
        low, high = ind.action_bounds
        if ind.type not in ("ordinal", "boolean"):
            low, high = max(low, float(q.loc[0.01])), min(high, float(q.loc[0.99]))
        spread = float(q.loc[0.9] - q.loc[0.1]) or float(q.iloc[-1] - q.iloc[0]) or 1.0
        t = list(thresholds.get(ind.id, []))
        if ind.bins is not None:
            t.extend(ind.bins.thresholds)
        if ind.type in ("ordinal", "boolean"):
            t.extend(np.arange(np.ceil(low), np.floor(high) + 1) - 0.5)     # every level is a candidate
        spaces[ind.id] = IndicatorSpace(ind, low, high, ind.action_step, spread, np.unique(np.asarray(t, dtype=float)))
    return spaces


def current_value(ind: Indicator, value) -> float | None:
    """The value a change starts from; None where the firm gave none (a missing value is not moved,
    unless missing means zero)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return 0.0 if ind.missing is MissingMeaning.zero else None
    return float(value)
