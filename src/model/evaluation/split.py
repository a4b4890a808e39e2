"""How rows are split for fitting, tuning and testing: out of time, at random, by a column, or k-fold.

`time` trains on earlier vintages, validates on the next and tests on the latest (the catalogue's
date column, enough distinct years). `random` is a seeded split stratified on the outcome, for a
cross-sectional sample. `column` follows a column of the data naming each row's window. `cv` is
k-fold cross-validation for small samples: every row is tested once, by a model that never saw it
(out-of-fold), and the registered models are refitted on all rows. `auto` picks the first that fits.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from innoscore.features.catalogue import Catalogue

SPLIT_KINDS = ("auto", "time", "random", "column", "cv")
WINDOWS = ("train", "valid", "test")


class SplitError(ValueError):
    """A split that the data or the catalogue cannot support, with the reason."""


@dataclass(frozen=True)
class Split:
    """Boolean masks of the rows in each window; for `cv`, the test fold of every row too.

    For `cv` the train and valid windows are those of the final refit on all rows, and the test
    window is every row, scored out of fold.
    """

    kind: str
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    folds: np.ndarray | None = None
    detail: dict = field(default_factory=dict)

    def summary(self, y: np.ndarray | None = None) -> dict:
        """Kind, sizes and (given the outcomes) bad counts per window, with the kind's own detail."""
        out = {"kind": self.kind, **self.detail}
        for w in WINDOWS:
            mask = getattr(self, w)
            out[f"n_{w}"] = int(mask.sum())
            if y is not None:
                out[f"bad_{w}"] = int(np.asarray(y)[mask].sum())
        return out


def time_split(data: pd.DataFrame, catalogue: Catalogue, test_years: int = 1, valid_years: int = 1) -> Split:
    """The latest `test_years` test, the `valid_years` before validate, all earlier years train."""
    date_col = catalogue.dataset.date_column
    if not date_col or date_col not in data:
        raise SplitError("an out-of-time split needs the catalogue's date column in the data")
    year = pd.to_datetime(data[date_col]).dt.year.to_numpy()
    years = sorted(set(year.tolist()))
    if len(years) < test_years + valid_years + 1:
        raise SplitError(f"an out-of-time split needs at least {test_years + valid_years + 1} vintage years, "
                         f"the data has {years}")
    test, valid = years[-test_years:], years[-test_years - valid_years:-test_years]
    train = years[:-test_years - valid_years]
    return Split("time", np.isin(year, train), np.isin(year, valid), np.isin(year, test),
                 detail={"train_years": train, "valid_years": valid, "test_years": test})


def random_split(y: np.ndarray, seed: int, test_share: float = 0.2, valid_share: float = 0.2) -> Split:
    """A seeded split stratified on the outcome: `test_share` test, `valid_share` valid, the rest train."""
    idx = np.arange(len(y))
    rest, test = train_test_split(idx, test_size=test_share, stratify=y, random_state=seed)
    train, valid = train_test_split(rest, test_size=valid_share / (1 - test_share), stratify=y[rest],
                                    random_state=seed)
    return Split("random", _mask(train, len(y)), _mask(valid, len(y)), _mask(test, len(y)),
                 detail={"seed": seed, "test_share": test_share, "valid_share": valid_share})


def column_split(data: pd.DataFrame, catalogue: Catalogue, column: str | None = None) -> Split:
    """Each row's window from a column of the data (values train, valid, test)."""
    column = column or catalogue.dataset.split_column
    if not column or column not in data:
        raise SplitError(f"a column split needs the split column{f' {column!r}' if column else ''} in the data "
                         "(catalogue dataset.split_column)")
    values = data[column].astype(str).str.strip().str.lower().to_numpy()
    unknown = sorted(set(values) - set(WINDOWS))
    if unknown:
        raise SplitError(f"split column {column!r} has values {unknown[:5]}; allowed: {list(WINDOWS)}")
    masks = {w: values == w for w in WINDOWS}
    empty = [w for w, m in masks.items() if not m.any()]
    if empty:
        raise SplitError(f"split column {column!r} names no {' or '.join(empty)} rows")
    return Split("column", masks["train"], masks["valid"], masks["test"], detail={"column": column})


def cv_split(y: np.ndarray, seed: int, k: int = 5, valid_share: float = 0.2) -> Split:
    """k stratified folds; the final refit uses all rows with a stratified `valid_share` to validate."""
    if np.bincount(y.astype(int), minlength=2).min() < k:
        raise SplitError(f"{k}-fold cross-validation needs at least {k} rows of each outcome")
    folds = np.empty(len(y), dtype=int)
    for f, (_, test) in enumerate(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)):
        folds[test] = f
    idx = np.arange(len(y))
    train, valid = train_test_split(idx, test_size=valid_share, stratify=y, random_state=seed)
    return Split("cv", _mask(train, len(y)), _mask(valid, len(y)), np.ones(len(y), dtype=bool), folds,
                 detail={"k": k, "seed": seed})


def fold_split(split: Split, fold: int, y: np.ndarray, seed: int, valid_share: float = 0.2) -> Split:
    """Fold `fold` of a cv split as its own split: that fold tests, the others train and validate."""
    test = split.folds == fold
    rest = np.flatnonzero(~test)
    train, valid = train_test_split(rest, test_size=valid_share, stratify=y[rest], random_state=seed + fold)
    return Split("cv-fold", _mask(train, len(y)), _mask(valid, len(y)), test, detail={"fold": fold})


def choose_split(data: pd.DataFrame, catalogue: Catalogue, y: np.ndarray, kind: str = "auto", *, seed: int = 0,
                 test_years: int = 1, valid_years: int = 1, test_share: float = 0.2, valid_share: float = 0.2,
                 k: int = 5, cv_below_rows: int = 2000) -> Split:
    """The split of `kind`; `auto`: by time when the data has enough vintages, else the catalogue's
    split column when present, else k-fold below `cv_below_rows` rows, else random."""
    if kind not in SPLIT_KINDS:
        raise SplitError(f"split must be one of {list(SPLIT_KINDS)}, got {kind!r}")
    if kind == "auto":
        try:
            return time_split(data, catalogue, test_years, valid_years)
        except SplitError:
            pass
        column = catalogue.dataset.split_column
        kind = "column" if column and column in data else "cv" if len(data) < cv_below_rows else "random"
    if kind == "time":
        return time_split(data, catalogue, test_years, valid_years)
    if kind == "column":
        return column_split(data, catalogue)
    if kind == "cv":
        return cv_split(y, seed, k, valid_share)
    return random_split(y, seed, test_share, valid_share)


def _mask(index: np.ndarray, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[index] = True
    return mask
