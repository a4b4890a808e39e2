"""Validation plots: ROC, calibration, KS and score distribution, as matplotlib figures."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_auc_score, roc_curve  # noqa: E402

from innoscore.model.evaluation.metrics import calibration_bins  # noqa: E402


def roc_plot(y, curves: dict[str, np.ndarray], title: str = "ROC, test window"):
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, p in curves.items():
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, p):.3f})")
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def calibration_plot(y, curves: dict[str, np.ndarray], n_bins: int = 10, title: str = "Calibration, test window"):
    fig, ax = plt.subplots(figsize=(5.5, 5))
    top = 0.0
    for name, p in curves.items():
        pred, obs, _ = calibration_bins(y, p, n_bins)
        top = max(top, pred.max(), obs.max())
        ax.plot(pred, obs, marker="o", label=name)
    ax.plot([0, top], [0, top], ls=":", c="grey")
    ax.set(xlabel="mean predicted PD (decile)", ylabel="observed default rate", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def ks_plot(y, p, title: str = "KS, test window"):
    y = np.asarray(y).astype(int)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    grid = np.quantile(p, np.linspace(0, 1, 201))
    bad = np.searchsorted(np.sort(p[y == 1]), grid, side="right") / max((y == 1).sum(), 1)
    good = np.searchsorted(np.sort(p[y == 0]), grid, side="right") / max((y == 0).sum(), 1)
    i = int(np.argmax(good - bad))
    ax.plot(grid, good, label="non-defaulters")
    ax.plot(grid, bad, label="defaulters")
    ax.vlines(grid[i], bad[i], good[i], colors="k", linestyles="--", label=f"KS {good[i] - bad[i]:.3f}")
    ax.set(xscale="log", xlabel="PD", ylabel="cumulative share", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def score_distribution_plot(y, p, title: str = "PD by outcome, test window"):
    y = np.asarray(y).astype(int)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    logit = np.log(np.clip(p, 1e-6, 1 - 1e-6) / (1 - np.clip(p, 1e-6, 1 - 1e-6)))
    bins = np.linspace(logit.min(), logit.max(), 40)
    ax.hist(logit[y == 0], bins=bins, density=True, alpha=0.6, label="non-defaulters")
    ax.hist(logit[y == 1], bins=bins, density=True, alpha=0.6, label="defaulters")
    ax.set(xlabel="log-odds of PD", ylabel="density", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
