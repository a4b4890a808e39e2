"""Which features LightGBM is constrained monotone in, kept apart from the business direction.

`direction` in the catalogue is what the bank believes (expert points, WoE trend, reason wording).
Whether LightGBM is forced to follow it is a policy, global (configs/training.yaml
`lightgbm.monotone`) with a per-indicator override (catalogue `monotone`):

- `enforce`: every indicator with a direction, and every category's expert points, is constrained.
- `supported` (default): only where the training window supports the declared direction: Spearman's
  rank correlation with the outcome has the declared sign, one-sided p < `level` (the hypothesis is
  the declared direction). On real data many ratios are non-monotone or driven by extreme values;
  forcing them costs accuracy. A trend the other way with two-sided p < `level` contradicts it.
- `off`: nothing is constrained.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from innoscore.features.catalogue import Catalogue, Direction

POLICIES = ("enforce", "supported", "off")
_SIGN = {Direction.higher_worse: 1, Direction.higher_better: -1, Direction.non_monotone: 0}
_MIN_ROWS = 30


def _trend(x: np.ndarray, y: np.ndarray, level: float, declared: Direction) -> tuple[float, float, str]:
    """Spearman rho, its two-sided p, and the trend the data shows: the declared one when rho has its
    sign with one-sided p (p / 2) below `level`, the other one when two-sided p is below it."""
    ok = ~np.isnan(x)
    if ok.sum() < _MIN_ROWS or np.unique(x[ok]).size < 2:
        return float("nan"), float("nan"), "none"
    rho, p = spearmanr(x[ok], y[ok])
    shown = "higher_worse" if rho > 0 else "higher_better"
    if shown == declared.value and p / 2 < level:
        return float(rho), float(p), shown
    return float(rho), float(p), shown if p < level else "none"


def monotone_report(values: pd.DataFrame, points: pd.DataFrame, y: np.ndarray, catalogue: Catalogue,
                    policy: str = "supported", level: float = 0.05) -> pd.DataFrame:
    """One row per indicator and category sub-score: declared direction, the trend the data shows
    (Spearman rho and p), whether the constraint is applied and whether the data contradicts it.

    `values`: indicator values as the model sees them (numbers); `points`: expert points per
    category; both on the training window, row for row with the outcome `y`.
    """
    if policy not in POLICIES:
        raise ValueError(f"monotone policy must be one of {list(POLICIES)}, got {policy!r}")
    y = np.asarray(y, dtype=float)
    rows = []
    features = [(ind.id, "indicator", ind.direction, ind.monotone or policy,
                 values[ind.id].to_numpy(dtype=float) if ind.type != "categorical" else None)
                for ind in catalogue.indicators]
    features += [(f"points_{c.id}", "category_points", Direction.higher_better, policy, points[c.id].to_numpy(dtype=float))
                 for c in catalogue.categories if c.points > 0]
    for key, kind, declared, own, x in features:
        rho, p, trend = _trend(x, y, level, declared) if x is not None else (float("nan"), float("nan"), "none")
        sign = _SIGN[declared]
        supported = sign != 0 and trend == declared.value
        contradicts = sign != 0 and trend not in ("none", declared.value)
        applied = sign != 0 and (own == "enforce" or (own == "supported" and supported))
        rows.append({"feature": key, "kind": kind, "declared": declared.value, "policy": own, "spearman": rho,
                     "p_value": p, "data_trend": trend, "applied": applied, "sign": sign if applied else 0,
                     "contradicts": contradicts})
    return pd.DataFrame(rows).set_index("feature")


def applied_signs(report: pd.DataFrame) -> dict[str, int]:
    """The `monotone` parameter of LightGBMPD: constraint sign per feature key (0 = free)."""
    return {k: int(v) for k, v in report["sign"].items()}
