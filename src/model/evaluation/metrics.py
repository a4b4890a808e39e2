"""Model evaluation as plain functions: discrimination, calibration, stability, per-grade tests."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import beta, binomtest, norm, rankdata
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score, roc_curve

from innoscore.model.grades import GradeScale

HEADLINE_METRICS = ("auc", "gini", "ks", "brier", "log_loss", "ece")
_EPS = 1e-6


def ks_statistic(y, pd_values) -> float:
    """Kolmogorov-Smirnov: the largest gap between the defaulters' and non-defaulters' score CDFs."""
    fpr, tpr, _ = roc_curve(np.asarray(y), np.asarray(pd_values))
    return float(np.max(tpr - fpr))


def expected_calibration_error(y, pd_values, n_bins: int = 10) -> float:
    """ECE over equal-count PD bins: sum of |observed - predicted| default rate weighted by bin size.

    Equal-count bins (not equal-width) because PDs crowd near zero; equal-width bins would put
    almost every firm in the first bin and hide miscalibration.
    """
    predicted, observed, sizes = calibration_bins(y, pd_values, n_bins)
    return float(np.sum(sizes / sizes.sum() * np.abs(observed - predicted)))


def calibration_bins(y, pd_values, n_bins: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean predicted PD, observed default rate and size of each equal-count PD bin."""
    y, p = np.asarray(y, dtype=float), np.asarray(pd_values, dtype=float)
    chunks = [c for c in np.array_split(np.argsort(p, kind="stable"), n_bins) if len(c)]
    return (np.array([p[c].mean() for c in chunks]), np.array([y[c].mean() for c in chunks]),
            np.array([len(c) for c in chunks], dtype=float))


def riskiest_decile_lift(y, pd_values) -> float:
    """Default rate among the 10% highest PDs over the overall default rate."""
    y, p = np.asarray(y, dtype=float), np.asarray(pd_values, dtype=float)
    top = np.argsort(-p, kind="stable")[: max(1, int(np.ceil(0.1 * len(p))))]
    return float(y[top].mean() / max(y.mean(), _EPS))


def auc_ci(y, pd_values, level: float = 0.95) -> tuple[float, float]:
    """DeLong's confidence interval of the AUC (Sun & Xu's fast algorithm: mid-ranks, O(n log n))."""
    y, p = np.asarray(y).astype(int), np.asarray(pd_values, dtype=float)
    pos, neg = p[y == 1], p[y == 0]
    m, n = len(pos), len(neg)
    r_all = rankdata(np.concatenate([pos, neg]))
    r_pos, r_neg = rankdata(pos), rankdata(neg)
    auc = (r_all[:m].sum() - m * (m + 1) / 2) / (m * n)
    v10 = (r_all[:m] - r_pos) / n            # structural components of the positives
    v01 = 1 - (r_all[m:] - r_neg) / m        # and of the negatives
    se = np.sqrt(np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n) if m > 1 and n > 1 else np.nan
    z = norm.ppf(0.5 + level / 2)
    return float(max(0.0, auc - z * se)), float(min(1.0, auc + z * se))


def headline_metrics(y, pd_values) -> dict[str, float]:
    """auc (with its 95% DeLong interval), gini, ks, brier, log_loss, ece and lift for one window."""
    y = np.asarray(y).astype(int)
    p = np.clip(np.asarray(pd_values, dtype=float), _EPS, 1 - _EPS)
    if len(np.unique(y)) < 2:
        raise ValueError("evaluation needs both defaulters and non-defaulters in the window")
    auc = roc_auc_score(y, p)
    return {"auc": float(auc), "auc_ci": list(auc_ci(y, p)), "gini": float(2 * auc - 1), "ks": ks_statistic(y, p),
            "brier": float(brier_score_loss(y, p)), "log_loss": float(log_loss(y, p, labels=[0, 1])),
            "ece": expected_calibration_error(y, p), "lift_top_decile": riskiest_decile_lift(y, p),
            "mean_pd": float(p.mean()), "default_rate": float(y.mean()), "n": int(len(y))}


def jeffreys_interval(defaults: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Equal-tailed interval of the default rate under the Jeffreys prior Beta(1/2, 1/2)."""
    a, b = defaults + 0.5, n - defaults + 0.5
    return float(beta.ppf((1 - level) / 2, a, b)), float(beta.ppf((1 + level) / 2, a, b))


def grade_table(y, pd_values, scale: GradeScale) -> pd.DataFrame:
    """Observed vs predicted default rate per grade, with a Jeffreys interval and a binomial test."""
    y = np.asarray(y).astype(int)
    p = np.asarray(pd_values, dtype=float)
    grades = scale.assign(p)
    rows = []
    for g in scale.labels:
        mask = grades == g
        n, d = int(mask.sum()), int(y[mask].sum())
        if n == 0:
            rows.append({"grade": g, "n": 0, "defaults": 0, "predicted_pd": np.nan, "observed_rate": np.nan,
                         "jeffreys_low": np.nan, "jeffreys_high": np.nan, "binomial_p": np.nan})
            continue
        mean_pd = float(p[mask].mean())
        low, high = jeffreys_interval(d, n)
        rows.append({"grade": g, "n": n, "defaults": d, "predicted_pd": mean_pd, "observed_rate": d / n,
                     "jeffreys_low": low, "jeffreys_high": high,
                     "binomial_p": float(binomtest(d, n, min(max(mean_pd, _EPS), 1 - _EPS)).pvalue)})
    return pd.DataFrame(rows)


PSI_FLOOR = 1e-4   # an empty bin counts as this share, so one empty bin does not make PSI infinite


def psi_from_shares(expected, actual, floor: float = PSI_FLOOR) -> float:
    """PSI = sum over bins of (actual - expected) * ln(actual / expected), shares floored at `floor`."""
    pe = np.clip(np.asarray(expected, dtype=float), floor, None)
    pa = np.clip(np.asarray(actual, dtype=float), floor, None)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


def population_stability_index(expected, actual, n_bins: int = 10) -> float:
    """PSI of `actual` against `expected` over expected's quantile bins (missing values as one bin);
    text columns (categorical levels) by their levels."""
    expected, actual = pd.Series(expected), pd.Series(actual)
    if expected.dtype == object or actual.dtype == object:
        levels = pd.concat([expected, actual]).astype(object).fillna("(missing)")
        pe = expected.astype(object).fillna("(missing)").value_counts(normalize=True).reindex(levels.unique(), fill_value=0)
        pa = actual.astype(object).fillna("(missing)").value_counts(normalize=True).reindex(levels.unique(), fill_value=0)
        return psi_from_shares(pe.to_numpy(), pa.to_numpy())
    e = pd.to_numeric(pd.Series(expected), errors="coerce").to_numpy(dtype=float)
    a = pd.to_numeric(pd.Series(actual), errors="coerce").to_numpy(dtype=float)
    e_ok, a_ok = e[~np.isnan(e)], a[~np.isnan(a)]
    edges = np.unique(np.quantile(e_ok, np.linspace(0, 1, n_bins + 1))) if len(e_ok) else np.array([])
    inner = edges[1:-1]

    def shares(values, ok):
        counts = np.bincount(np.searchsorted(inner, ok, side="right"), minlength=len(inner) + 1).astype(float)
        return np.append(counts, np.isnan(values).sum()) / max(len(values), 1)

    return psi_from_shares(shares(e, e_ok), shares(a, a_ok))


def psi_table(train: pd.DataFrame, test: pd.DataFrame, columns: list[str]) -> pd.Series:
    """PSI of each column between the training and the test window, largest first."""
    return pd.Series({c: population_stability_index(train[c], test[c]) for c in columns}).sort_values(ascending=False)
