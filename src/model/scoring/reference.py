"""The reference profile of a model's training population, frozen at training and stored with it.

Explanations place a firm among these peers (percentiles), and monitoring compares a served
population with it (bins by reference quantiles, shares per bin, the grade mix).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

N_BINS = 10


def quantile_edges(values: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """Inner bin edges at the reference quantiles (ties merged), so each bin holds about 1/n of it."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.array([])
    return np.unique(np.quantile(finite, np.linspace(0, 1, n_bins + 1)[1:-1]))


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Count of values in each bin (len(edges) + 1 bins) and, last, the count missing."""
    values = np.asarray(values, dtype=float)
    missing = np.isnan(values)
    counts = np.bincount(np.searchsorted(edges, values[~missing], side="right"), minlength=len(edges) + 1)
    return np.append(counts, missing.sum())


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of values in each bin (len(edges) + 1 bins) and, last, the share missing."""
    return bin_counts(values, edges) / max(len(values), 1)


@dataclass
class ReferenceProfile:
    """Peer quantiles, score and indicator distributions and the grade mix of the training population."""

    indicator_quantiles: pd.DataFrame              # 101 quantiles (index 0..1) x indicators
    pd_edges: np.ndarray
    pd_shares: np.ndarray
    indicator_edges: dict[str, np.ndarray]
    indicator_shares: dict[str, np.ndarray]
    grade_shares: dict[str, float]
    mean_pd: float
    n_rows: int
    metrics: dict = field(default_factory=dict)     # validation metrics (AUC, calibration) at training
    category_edges: dict[str, np.ndarray] = field(default_factory=dict)    # expert points per category
    category_shares: dict[str, np.ndarray] = field(default_factory=dict)

    def __setstate__(self, state: dict) -> None:
        """Profiles pickled before the category distributions existed load with none."""
        self.__dict__.update({"category_edges": {}, "category_shares": {}, **state})

    @classmethod
    def build(cls, values: pd.DataFrame, pd_values: np.ndarray, grades: np.ndarray, grade_labels: list[str],
              metrics: dict | None = None, categories: pd.DataFrame | None = None) -> "ReferenceProfile":
        """`values`: the training rows' indicator values as the model sees them (numbers, catalogue order);
        `categories`: their expert points per category (one column each)."""
        pd_values = np.asarray(pd_values, dtype=float)
        pd_edges = quantile_edges(pd_values)
        edges = {c: quantile_edges(values[c].to_numpy(dtype=float)) for c in values.columns}
        categories = categories if categories is not None else pd.DataFrame(index=values.index)
        cat_edges = {c: quantile_edges(categories[c].to_numpy(dtype=float)) for c in categories.columns}
        grade_counts = pd.Series(grades).value_counts()
        return cls(
            indicator_quantiles=values.quantile(np.linspace(0, 1, 101)),
            pd_edges=pd_edges, pd_shares=bin_shares(pd_values, pd_edges),
            indicator_edges=edges,
            indicator_shares={c: bin_shares(values[c].to_numpy(dtype=float), e) for c, e in edges.items()},
            grade_shares={g: float(grade_counts.get(g, 0)) / max(len(grades), 1) for g in grade_labels},
            mean_pd=float(pd_values.mean()) if len(pd_values) else float("nan"), n_rows=len(pd_values),
            metrics=dict(metrics or {}), category_edges=cat_edges,
            category_shares={c: bin_shares(categories[c].to_numpy(dtype=float), e) for c, e in cat_edges.items()})
