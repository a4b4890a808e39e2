"""The kickout measure (Kozodoi et al. 2019, arXiv 1909.06108): whether a model trained with reject
inference decides better than the accepts-only one, without outcomes for the declined applicants.

Both models accept the same share of the applicants (booked and declined): the ones with the lowest
PD. The applicants the new model kicks out of the benchmark's accepted set are the firms it changes
its mind about; only their known outcomes are needed. With K_B bad and K_G good firms kicked out,
S_B bad firms in the benchmark's accepted set and p_B the bad rate of the labelled applicants,

    kickout = (K_B / p_B - K_G / (1 - p_B)) / (S_B / p_B)

Positive: the new model kicks out more bad firms than their share would explain (better); 0: no
better than chance; 1: every bad firm the benchmark accepted, and no good one, is kicked out.
"""
from __future__ import annotations

import numpy as np


def accepted(pd_: np.ndarray, acceptance_rate: float) -> np.ndarray:
    """The `acceptance_rate` share of applicants with the lowest PD (ties by position)."""
    n = int(round(acceptance_rate * len(pd_)))
    out = np.zeros(len(pd_), dtype=bool)
    out[np.argsort(pd_, kind="stable")[:n]] = True
    return out


def kickout(benchmark_pd, new_pd, outcome, acceptance_rate: float) -> float:
    """The kickout of `new_pd` against `benchmark_pd` over the same applicants; `outcome` is 1 bad,
    0 good, NaN unknown (a declined applicant): unknown outcomes count in the accepted sets only."""
    benchmark_pd, new_pd = np.asarray(benchmark_pd, dtype=float), np.asarray(new_pd, dtype=float)
    outcome = np.asarray(outcome, dtype=float)
    if not (benchmark_pd.shape == new_pd.shape == outcome.shape):
        raise ValueError("kickout needs one benchmark PD, one new PD and one outcome per applicant")
    if not 0 < acceptance_rate < 1:
        raise ValueError(f"the acceptance rate must lie strictly between 0 and 1, got {acceptance_rate}")
    known = ~np.isnan(outcome)
    bad, good = known & (outcome == 1), known & (outcome == 0)
    p_bad = bad.sum() / max(known.sum(), 1)
    before, after = accepted(benchmark_pd, acceptance_rate), accepted(new_pd, acceptance_rate)
    selected_bad = (before & bad).sum()
    if not 0 < p_bad < 1 or selected_bad == 0:
        return float("nan")
    kicked = before & ~after
    return float(((kicked & bad).sum() / p_bad - (kicked & good).sum() / (1 - p_bad)) / (selected_bad / p_bad))
