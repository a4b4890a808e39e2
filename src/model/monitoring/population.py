"""The scored population counted in the reference profile's bins, chunk by chunk.

Counts add up across chunks, so monitoring a million logged firms holds one chunk and a few
hundred counters in memory; shares and PSI come from the totals at the end.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from innoscore.model.scoring.reference import ReferenceProfile, bin_counts


@dataclass
class PopulationCounts:
    """Bin counts (last bin: missing) of the score, each indicator and each category; grade counts."""

    reference: ReferenceProfile
    indicator_ids: list[str]
    n: int = 0
    pd_sum: float = 0.0
    pd_counts: np.ndarray | None = None
    indicator_counts: dict[str, np.ndarray] = field(default_factory=dict)
    category_counts: dict[str, np.ndarray] = field(default_factory=dict)
    grade_counts: dict[str, int] = field(default_factory=dict)

    def add(self, values: np.ndarray, pd_values: np.ndarray, grades: np.ndarray,
            categories: dict[str, np.ndarray]) -> None:
        """One chunk: `values` the indicators as the model sees them (rows x indicators, catalogue
        order), `categories` the expert points per category."""
        ref = self.reference
        self.n += len(pd_values)
        self.pd_sum += float(np.nansum(pd_values))
        self.pd_counts = _plus(self.pd_counts, bin_counts(pd_values, ref.pd_edges))
        for j, ind in enumerate(self.indicator_ids):
            self.indicator_counts[ind] = _plus(self.indicator_counts.get(ind),
                                               bin_counts(values[:, j], ref.indicator_edges[ind]))
        for c, edges in ref.category_edges.items():
            if c in categories:
                self.category_counts[c] = _plus(self.category_counts.get(c), bin_counts(categories[c], edges))
        labels, counts = np.unique(np.asarray(grades, dtype=object).astype(str), return_counts=True)
        for g, k in zip(labels, counts):
            self.grade_counts[g] = self.grade_counts.get(g, 0) + int(k)

    def shares(self, counts: np.ndarray) -> np.ndarray:
        return counts / max(self.n, 1)


def _plus(total: np.ndarray | None, counts: np.ndarray) -> np.ndarray:
    return counts if total is None else total + counts
