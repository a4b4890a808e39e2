"""Reject inference: a training set that speaks for the applicants the bank declined, whose outcomes
it never saw (docs/reject-inference.md).

Each method takes the booked applicants with outcomes (accepts), the declined ones without
(rejects) and a model fitted on the accepts alone, and returns rows, outcomes and weights for a
final fit (`LightGBMPD.fit(..., sample_weight=...)`):

- `none`: the accepts alone;
- `reweighting`: each accept weighs 1 / P(booked | x), the acceptance probability from a model of
  the past decisions on every applicant (capped at `max_weight`, normalised to a mean of 1): accepts
  that resemble rejects stand for them;
- `fuzzy`: each reject enters twice, bad with weight p and good with weight 1 - p (p: the accepts
  model's PD); Ehrhardt et al. (2021) show it gives back the accepts-only fit;
- `parcelling`: each reject drawn bad with probability min(1, `parcel_factor` x p), a factor chosen
  in advance (rejects are riskier than accepts of the same score);
- `self_learning`: one round of Kozodoi et al.'s shallow self-learning: the rejects the accepts
  model is most sure of (`confident_share` at each end of its PD) labelled bad or good.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import pandas as pd

Method = Literal["none", "reweighting", "fuzzy", "parcelling", "self_learning"]
METHODS = get_args(Method)


@dataclass(frozen=True)
class Augmented:
    rows: pd.DataFrame
    y: np.ndarray
    weight: np.ndarray


def augmented_training_set(method: str, accepts: pd.DataFrame, y: np.ndarray, rejects: pd.DataFrame,
                           accepts_pd, booked_probability=None, seed: int = 0, parcel_factor: float = 1.5,
                           confident_share: float = 0.1, max_weight: float = 20.0) -> Augmented:
    """The rows, outcomes and weights `method` trains on. `accepts_pd(rows)`: the accepts-only model's
    PD; `booked_probability(rows)`: P(booked | x) from a model of the past decisions (reweighting)."""
    if method not in METHODS:
        raise ValueError(f"reject inference must be one of {list(METHODS)}, got {method!r}")
    y = np.asarray(y, dtype=float)
    if method == "none" or len(rejects) == 0:
        return Augmented(accepts, y, np.ones(len(accepts)))
    if method == "reweighting":
        if booked_probability is None:
            raise ValueError("reweighting needs a model of the past decisions (booked_probability)")
        w = np.minimum(1 / np.maximum(np.asarray(booked_probability(accepts), dtype=float), 1 / max_weight),
                       max_weight)
        return Augmented(accepts, y, w / w.mean())
    p = np.asarray(accepts_pd(rejects), dtype=float)
    if method == "fuzzy":
        rows = pd.concat([accepts, rejects, rejects], ignore_index=True)
        return Augmented(rows, np.concatenate([y, np.ones(len(p)), np.zeros(len(p))]),
                         np.concatenate([np.ones(len(y)), p, 1 - p]))
    if method == "parcelling":
        drawn = (np.random.default_rng(seed).random(len(p)) < np.minimum(1.0, parcel_factor * p)).astype(float)
        return Augmented(pd.concat([accepts, rejects], ignore_index=True), np.concatenate([y, drawn]),
                         np.ones(len(y) + len(p)))
    low, high = np.quantile(p, [confident_share, 1 - confident_share])
    sure = (p <= low) | (p >= high)
    return Augmented(pd.concat([accepts, rejects[sure]], ignore_index=True),
                     np.concatenate([y, (p[sure] >= high).astype(float)]), np.ones(len(y) + int(sure.sum())))
