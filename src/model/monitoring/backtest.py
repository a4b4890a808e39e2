"""Backtesting PDs against outcomes: per-grade one-sided tests, calibration, Hosmer-Lemeshow, AUC.

The one-sided tests ask the supervisor's question, "are defaults higher than the PD said?":
a small p-value means the grade's PD is too low (under-prediction). Formulas: docs/monitoring.md.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit, logit
from scipy.stats import beta, binomtest, chi2
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from innoscore.model.evaluation.metrics import auc_ci, jeffreys_interval
from innoscore.model.monitoring.config import MonitoringConfig, worst

_EPS = 1e-6


def jeffreys_p_value(defaults: int, n: int, pd_value: float) -> float:
    """P(default rate <= PD) under the Jeffreys posterior Beta(d + 1/2, n - d + 1/2) (the ECB's test):
    small when the defaults seen make a rate as low as the PD implausible."""
    return float(beta.cdf(pd_value, defaults + 0.5, n - defaults + 0.5))


def binomial_p_value(defaults: int, n: int, pd_value: float) -> float:
    """P(X >= defaults) for X ~ Binomial(n, PD): the exact one-sided test of under-prediction."""
    return float(binomtest(defaults, n, min(max(pd_value, _EPS), 1 - _EPS), alternative="greater").pvalue)


def calibration_intercept_slope(y, pd_values) -> tuple[float, float]:
    """Calibration-in-the-large (the intercept a of y ~ a + logit(PD), slope fixed at 1; 0 is right,
    > 0 means PDs too low) and the calibration slope (b of y ~ c + b logit(PD); 1 is right, < 1
    means PDs too spread out)."""
    y = np.asarray(y, dtype=float)
    lp = logit(np.clip(np.asarray(pd_values, dtype=float), _EPS, 1 - _EPS))
    intercept = brentq(lambda a: expit(a + lp).sum() - y.sum(), -20, 20)
    fit = LogisticRegression(C=np.inf, solver="lbfgs", max_iter=1000).fit(lp.reshape(-1, 1), y)
    return float(intercept), float(fit.coef_[0, 0])


def hosmer_lemeshow(y, pd_values, groups: int = 10) -> tuple[float, int, float]:
    """H = sum over PD groups (equal-sized, by rank) of (O - E)^2 / (E (1 - E / n)); df = groups - 2."""
    y = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(pd_values, dtype=float), _EPS, 1 - _EPS)
    order = np.argsort(p, kind="stable")
    stat = 0.0
    parts = [part for part in np.array_split(order, groups) if len(part)]
    for part in parts:
        n, observed, expected = len(part), y[part].sum(), p[part].sum()
        stat += (observed - expected) ** 2 / (expected * (1 - expected / n))
    df = max(len(parts) - 2, 1)
    return float(stat), df, float(chi2.sf(stat, df))


def grade_backtest(y, pd_values, grades, labels: list[str], config: MonitoringConfig) -> pd.DataFrame:
    """Per grade and overall: firms, defaults, mean PD, observed rate, Jeffreys interval, both
    one-sided p-values and the light (the worse of the two tests; grey below `min_firms_per_grade`
    firms: one default among a handful of firms is no evidence, and grey never sets the overall light)."""
    y = np.asarray(y).astype(int)
    p = np.asarray(pd_values, dtype=float)
    grades = np.asarray(grades)
    rows = []
    for label, mask in [*((g, grades == g) for g in labels), ("all", np.ones(len(y), bool))]:
        n, d = int(mask.sum()), int(y[mask].sum())
        if n == 0:
            rows.append({"grade": label, "n": 0, "defaults": 0, "predicted_pd": np.nan, "observed_rate": np.nan,
                         "jeffreys_low": np.nan, "jeffreys_high": np.nan, "jeffreys_p": np.nan,
                         "binomial_p": np.nan, "light": "grey"})
            continue
        mean_pd = float(p[mask].mean())
        low, high = jeffreys_interval(d, n)
        jp, bp = jeffreys_p_value(d, n, mean_pd), binomial_p_value(d, n, mean_pd)
        rows.append({"grade": label, "n": n, "defaults": d, "predicted_pd": mean_pd, "observed_rate": d / n,
                     "jeffreys_low": low, "jeffreys_high": high, "jeffreys_p": jp, "binomial_p": bp,
                     "light": worst([config.backtest.light_below(jp), config.backtest.light_below(bp)])
                     if n >= config.min_firms_per_grade else "grey"})
    return pd.DataFrame(rows)


def discrimination(y, pd_values, validation_auc: float | None, config: MonitoringConfig) -> dict:
    """AUC now with its DeLong interval, against the model's out-of-sample AUC at training (passed as
    `validation_auc`, the name the monitoring JSON keeps): amber when that lies above the interval,
    red when the drop also exceeds `auc_drop.red`."""
    y = np.asarray(y).astype(int)
    if y.sum() < config.min_defaults or y.sum() == len(y):
        return {"auc": np.nan, "auc_ci": [np.nan, np.nan], "validation_auc": validation_auc, "light": "grey"}
    auc = float(roc_auc_score(y, pd_values))
    low, high = auc_ci(y, pd_values)
    light = "grey"
    if validation_auc is not None:
        drop = validation_auc - auc
        light = "green" if validation_auc <= high else config.auc_drop.light_above(max(drop, _EPS))
    return {"auc": auc, "auc_ci": [low, high], "validation_auc": validation_auc, "light": light}
