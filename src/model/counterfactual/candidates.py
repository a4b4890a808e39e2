"""Where an indicator's change can matter: the values a search needs to try.

A tree ensemble's output changes only when a value crosses one of its split thresholds, and the
expert scorecard's only when it crosses a bin threshold; values in between are the same to the
model. So each actionable indicator gets, as candidates, the points just past each threshold in its
feasible direction, within its bounds, on its step (for a continuous value the precision a reason
shows it with, so that the value shown is the value scored), within a band of the training
population (5th to 95th percentile by default: "add 2,000 patents" is not advice) and within a
maximum change from where the firm stands.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

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
    step: float
    spread: float            # the reference's 10th-90th percentile distance (how far "relative" reaches from 0)
    thresholds: np.ndarray
    quantiles: np.ndarray    # the reference's 101 quantiles: cost is the distance in percentiles
    max_change: float        # the most a value may move, relative to max(|value|, spread)

    def reach(self, x0: float) -> tuple[float, float]:
        """The values a firm at `x0` may move to: the band, narrowed by the maximum change."""
        far = self.max_change * max(abs(x0), self.spread)
        return max(self.low, x0 - far), min(self.high, x0 + far)

    def on_grid(self, values) -> np.ndarray:
        """Values as the step's decimals write them (0.426, not 0.42600000000000005)."""
        digits = max(0, -Decimal(repr(float(self.step))).normalize().as_tuple().exponent)
        return np.round(np.asarray(values, dtype=float), digits)

    def candidates(self, x0: float, extra: np.ndarray | None = None, limit: int = 8) -> np.ndarray:
        """Values past each threshold in the feasible direction from `x0` (nearest first, at most
        `limit`, spread over the range when there are more)."""
        direction = self.indicator.feasible_direction
        t = self.thresholds if extra is None else np.concatenate([self.thresholds, extra])
        low, high = self.reach(x0)
        values = []
        if direction in ("increase", "either"):
            up = t[t >= x0]
            values.append(self._snap_up(up))
            values.append(self._snap_down(np.array([high])))      # the furthest on the grid within reach
        if direction in ("decrease", "either"):
            down = t[t < x0]
            values.append(self._snap_down(down))
            values.append(np.ceil(np.array([low]) / self.step - _NUDGE) * self.step)   # the nearest within reach
        v = np.unique(self.on_grid(np.concatenate([np.asarray(a, dtype=float) for a in values]))) if values else np.array([])
        v = v[(v >= low - 1e-12) & (v <= high + 1e-12) & (v != x0)]
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
        """The first value on the grid past each threshold (values <= t are on the other side)."""
        return (np.floor(t / self.step + _NUDGE) + 1) * self.step

    def _snap_down(self, t: np.ndarray) -> np.ndarray:
        """The last value on the grid at or below each threshold."""
        return np.floor(t / self.step + _NUDGE) * self.step

    def percentile(self, value) -> np.ndarray:
        return np.interp(np.asarray(value, dtype=float), self.quantiles, np.linspace(0, 100, len(self.quantiles)))

    def cost(self, x0: float, value) -> np.ndarray:
        """The cost weight times the distance in percentiles of the training population (10th to 90th
        percentile: 1), plus a little of the distance in values, so that moves within a block of
        tied values (many firms at 0) are not free."""
        pct = np.abs(self.percentile(value) - self.percentile(x0)) / 80
        return self.indicator.action.cost * (pct + 0.1 * np.abs(np.asarray(value, dtype=float) - x0) / self.spread)


BAND = (0.05, 0.95)      # the training population's percentiles a moved value stays within
MAX_CHANGE = 1.0         # a value moves at most this much relative to max(|value|, 10th-90th spread)


def indicator_spaces(catalogue: Catalogue, quantiles: pd.DataFrame, thresholds: dict[str, np.ndarray],
                     band: tuple[float, float] = BAND, max_change: float = MAX_CHANGE) -> dict[str, IndicatorSpace]:
    """The space of each actionable indicator: bounds narrowed to the reference's `band` of
    percentiles, thresholds of the model and of the expert bins, ordinal levels; the maximum change
    is the catalogue's `action.max_change`, else `max_change`."""
    spaces = {}
    for ind in catalogue.indicators:
        if ind.feasible_direction is None or ind.id not in quantiles:
            continue
        q = quantiles[ind.id]
        low, high = ind.action_bounds
        if ind.type not in ("ordinal", "boolean"):
            low = max(low, float(q.iloc[int(round(band[0] * (len(q) - 1)))]))
            high = min(high, float(q.iloc[int(round(band[1] * (len(q) - 1)))]))
        spread = float(q.loc[0.9] - q.loc[0.1]) or float(q.iloc[-1] - q.iloc[0]) or 1.0
        t = list(thresholds.get(ind.id, []))
        if ind.bins is not None:
            t.extend(ind.bins.thresholds)
        if ind.type in ("ordinal", "boolean"):
            t.extend(np.arange(np.ceil(low), np.floor(high) + 1) - 0.5)     # every level is a candidate
        limit = ind.action.max_change or max_change
        if ind.type in ("ordinal", "boolean"):
            limit = np.inf                       # a level is a level: the band of levels is the limit
        spaces[ind.id] = IndicatorSpace(ind, low, high, ind.action_step, spread, np.unique(np.asarray(t, dtype=float)),
                                        q.to_numpy(dtype=float), limit)
    return spaces


def current_value(ind: Indicator, value) -> float | None:
    """The value a change starts from; None where the firm gave none (a missing value is not moved,
    unless missing means zero)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return 0.0 if ind.missing is MissingMeaning.zero else None
    return float(value)
