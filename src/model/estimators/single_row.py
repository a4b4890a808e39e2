"""One firm's raw score or TreeSHAP contributions from LightGBM's single-row C API, set up once per booster.

`Booster.predict` checks its input and builds a predictor on every call: for the one firm of a
loan-origination request that costs three times walking the trees (raw score: 0.025 against 0.008
ms). LightGBM's `LGBM_BoosterPredictForMatSingleRowFast` sets the predictor up once
(`LGBM_BoosterPredictForMatSingleRowFastInit`) and then only walks the trees, with the same
arithmetic as `Booster.predict` (tested equal). LightGBM guards each set-up with its own lock, so
threads may share one. `_LIB` and `_safe_call` are the LightGBM package's own ctypes handles (not
its public API): where they are missing or the set-up fails, `Booster.predict` serves one firm too.
"""
from __future__ import annotations

import ctypes
import threading

import lightgbm as lgb
import numpy as np

from innoscore.speed import per_object

try:
    from lightgbm.basic import _LIB, _safe_call
except ImportError:          # a LightGBM without them
    _LIB = _safe_call = None

_LOCK = threading.Lock()
RAW_SCORE, CONTRIBUTIONS = 1, 3     # LightGBM's c_api.h: C_API_PREDICT_RAW_SCORE, C_API_PREDICT_CONTRIB
_FLOAT64 = 1                        # C_API_DTYPE_FLOAT64


class SingleRowPredictor:
    """The booster's `kind` of output (RAW_SCORE or CONTRIBUTIONS) for one row of float64 features,
    from its first `num_iteration` trees (<= 0: all). Holds the booster: LightGBM's set-up points
    into it and must be freed first. `available` is False where LightGBM could not set it up."""

    def __init__(self, booster: lgb.Booster, num_iteration: int, num_threads: int = 1, kind: int = RAW_SCORE):
        self._handle = ctypes.c_void_p()
        self.booster, self.num_iteration, self.kind = booster, num_iteration, kind
        self.num_feature = booster.num_feature()
        per_model = 1 if kind == RAW_SCORE else self.num_feature + 1
        self.out_size = per_model * booster.num_model_per_iteration()
        try:
            _safe_call(_LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle, ctypes.c_int(kind), ctypes.c_int(0), ctypes.c_int(num_iteration),
                ctypes.c_int(_FLOAT64), ctypes.c_int32(self.num_feature),
                ctypes.c_char_p(f"num_threads={num_threads}".encode()), ctypes.byref(self._handle)))
        except (AttributeError, TypeError, lgb.basic.LightGBMError):
            self._handle = ctypes.c_void_p()

    @property
    def available(self) -> bool:
        return bool(self._handle)

    def predict(self, row: np.ndarray) -> np.ndarray:
        """One row's output as `Booster.predict(row[None, :], raw_score=True)` (or `pred_contrib=True`)
        gives its first row."""
        row = np.ascontiguousarray(row, dtype=np.float64)
        if row.shape != (self.num_feature,):
            raise ValueError(f"expected {self.num_feature} features, got shape {row.shape}")
        out, out_len = np.empty(self.out_size), ctypes.c_int64()
        _safe_call(_LIB.LGBM_BoosterPredictForMatSingleRowFast(
            self._handle, row.ctypes.data_as(ctypes.c_void_p), ctypes.byref(out_len),
            out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))))
        return out

    def __del__(self):
        if self._handle and _LIB is not None:       # (at interpreter exit the module may be gone first)
            _LIB.LGBM_FastConfigFree(self._handle)
            self._handle = ctypes.c_void_p()


def _current(predictor: SingleRowPredictor, booster: lgb.Booster, iterations: int) -> bool:
    return predictor.booster is booster and predictor.num_iteration == iterations


@per_object
def _predictors(owner) -> dict:
    """The owner's set-ups by kind (kept as long as the owner lives; not pickled with it)."""
    return {}


def single_row_predictor(owner, booster: lgb.Booster, num_iteration: int | None, num_threads: int = 1,
                         kind: int = RAW_SCORE) -> SingleRowPredictor:
    """The set-up of `kind` for `booster` and `num_iteration`, kept as long as `owner` (the estimator
    holding the booster) lives, rebuilt if the owner's booster or iteration count changes."""
    iterations = int(num_iteration or 0)
    built = _predictors(owner)
    predictor = built.get(kind)
    if predictor is None or not _current(predictor, booster, iterations):
        with _LOCK:
            predictor = built[kind] = SingleRowPredictor(booster, iterations, num_threads, kind)
    return predictor


def booster_output(owner, booster: lgb.Booster, matrix: np.ndarray, num_iteration: int | None,
                   num_threads: int = 1, kind: int = RAW_SCORE) -> np.ndarray:
    """`booster.predict(matrix, raw_score=True)` (RAW_SCORE: one value per row) or `pred_contrib=True`
    (CONTRIBUTIONS: rows x features + 1), from the first `num_iteration` trees: the one door to
    LightGBM's prediction. One row (an HTTP request's firm) goes through the single-row set-up kept for
    `owner`; more rows, or a LightGBM without the single-row API, through `Booster.predict`, which
    names any mismatch."""
    if len(matrix) == 1:
        one = single_row_predictor(owner, booster, num_iteration, num_threads, kind)
        if one.available and matrix.shape[1] == one.num_feature:
            out = one.predict(matrix[0])[None, :]
            return out[:, 0] if kind == RAW_SCORE else out
    if kind == RAW_SCORE:
        return booster.predict(matrix, num_iteration=num_iteration, raw_score=True, num_threads=num_threads)
    return booster.predict(matrix, num_iteration=num_iteration, pred_contrib=True, num_threads=num_threads)
