"""Which features LightGBM is constrained monotone in, kept apart from the business direction.

`direction` in the catalogue is what the bank believes (expert points, WoE trend, reason wording).
Whether LightGBM is forced to follow it is a policy, global (configs/training.yaml
`lightgbm.monotone`) with a per-indicator override (catalogue `monotone`):

- `enforce`: every indicator with a direction, and every category's expert points, is constrained.
- `supported` (default): only where the training window supports the declared direction: Spearman's
  rank correlation with the outcome has the declared sign, one-sided p < `level` (the hypothesis is
  the declared direction), and the shape is monotone: over deciles of the feature, the bad rates
  fitted monotone in that direction (isotonic) are not worse than free ones by a likelihood-ratio
  test at `level`. On real data many ratios have a trend but are U-shaped or bend in their tails
  (a current ratio far above its peers); forcing them costs accuracy (Polish firms: 11 of 51
  trending ratios fail the shape test). A trend the other way with two-sided p < `level`
  contradicts the direction.
- `off`: nothing is constrained.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chi2, spearmanr
from sklearn.isotonic import IsotonicRegression

from innoscore.features.catalogue import Catalogue, Direction

POLICIES = ("enforce", "supported", "off")
_SIGN = {Direction.higher_worse: 1, Direction.higher_better: -1, Direction.non_monotone: 0}
_MIN_ROWS = 30
_SHAPE_BINS = 10


def _shape_p(x: np.ndarray, y: np.ndarray, sign: int) -> float:
    """p-value of a likelihood-ratio test of monotone (isotonic, increasing for sign 1) bad rates
    against free ones over deciles of `x` (missing values left out); 1.0 where no bin breaks it."""
    ok = ~np.isnan(x)
    bins = pd.qcut(x[ok], _SHAPE_BINS, labels=False, duplicates="drop")
    counts = pd.DataFrame({"bin": bins, "bad": y[ok]}).groupby("bin")["bad"].agg(["sum", "count"])
    bad, n = counts["sum"].to_numpy(float), counts["count"].to_numpy(float)
    if len(n) < 3:
        return 1.0
    free = bad / n
    fitted = IsotonicRegression(increasing=sign > 0).fit(np.arange(len(n)), free, sample_weight=n).predict(np.arange(len(n)))

    def log_likelihood(p: np.ndarray) -> float:
        p = np.clip(p, 1e-12, 1 - 1e-12)
        return float((bad * np.log(p) + (n - bad) * np.log(1 - p)).sum())
    statistic = 2 * (log_likelihood(free) - log_likelihood(fitted))
    pooled = len(n) - len(np.unique(np.round(fitted, 12)))      # bins the monotone fit had to merge
    return 1.0 if pooled == 0 else float(chi2.sf(statistic, pooled))


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
        shape_p = _shape_p(x, y, sign) if sign != 0 and trend == declared.value else float("nan")
        supported = sign != 0 and trend == declared.value and shape_p >= level
        contradicts = sign != 0 and trend not in ("none", declared.value)
        applied = sign != 0 and (own == "enforce" or (own == "supported" and supported))
        rows.append({"feature": key, "kind": kind, "declared": declared.value, "policy": own, "spearman": rho,
                     "p_value": p, "data_trend": trend, "shape_p_value": shape_p, "applied": applied, "sign": sign if applied else 0,
                     "contradicts": contradicts})
    return pd.DataFrame(rows).set_index("feature")


def applied_signs(report: pd.DataFrame) -> dict[str, int]:
    """The `monotone` parameter of LightGBMPD: constraint sign per feature key (0 = free)."""
    return {k: int(v) for k, v in report["sign"].items()}
