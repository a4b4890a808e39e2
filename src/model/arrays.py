"""Per-row list columns (missing indicators, top reasons, decision reasons) built as Arrow lists.

A Python loop per firm costs more than scoring it; these are built in a few vectorised passes (the
labels taken by code in Arrow, no Python string per row) and handed to pandas as Arrow-backed
extension arrays: no copy, positional (they align with any row index), read back as Python lists,
and written to Parquet as list<string> / list<double> by both batch engines. The same types at any
size; a caller that reads every value as a Python object (an HTTP reply, built firm by firm) asks
for `python_objects` instead: object arrays of Python strings and lists, which cost less than Arrow
arrays and categoricals for a request's few firms.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa


@lru_cache(maxsize=64)
def column_labels(names: tuple[str, ...]) -> pd.Index:
    """Column labels built once per set of names: making a text Index costs more than the rest of a
    frame for the one or two firms of an HTTP request."""
    return pd.Index(list(names), dtype=object)


@lru_cache(maxsize=128)
def _label_levels(labels: tuple[str, ...]) -> tuple[np.ndarray, pd.CategoricalDtype | None]:
    """The labels as an object array and, where they are distinct, as categories (built once)."""
    return np.asarray(labels, dtype=object), pd.CategoricalDtype(list(labels)) if len(set(labels)) == len(labels) else None


def coded_labels(codes: np.ndarray, labels: tuple[str, ...], python_objects: bool = False):
    """Each code's label as a categorical (making millions of label strings pandas text costs more than
    computing them; Parquet gets plain strings); `python_objects`: an object array of Python strings.
    Labels that repeat cannot be categories and stay text."""
    levels, dtype = _label_levels(tuple(labels))
    if python_objects or dtype is None:
        return levels[codes]
    return pd.Categorical.from_codes(codes, dtype=dtype)


def in_order(frame: pd.DataFrame, names) -> np.ndarray:
    """The frame's columns `names`, in that order, as an array; without a reindex (which costs more
    than the data of a request's firms) when the frame already has exactly those columns."""
    names = list(names)
    if len(frame.columns) == len(names) and all(a == b for a, b in zip(frame.columns, names)):
        return frame.to_numpy()
    return frame[names].to_numpy()


def _small_lists(mask, label_sets, codes, values) -> list[np.ndarray]:
    """The lists as Python objects: one pass over the set slots, then cut per row."""
    rows, slots = np.nonzero(mask)
    picked = slots if codes is None else codes[rows, slots]
    ends = np.cumsum(mask.sum(axis=1)).tolist()
    starts = [0, *ends[:-1]]
    flat = [_label_levels(tuple(labels))[0][picked].tolist() for labels in label_sets]
    if values is not None:
        flat.append(values[rows, slots].astype(float).tolist())
    out = []
    for items in flat:
        column = np.empty(len(mask), dtype=object)
        for i, (a, b) in enumerate(zip(starts, ends)):
            column[i] = items[a:b]
        out.append(column)
    return out


def masked_lists(mask: np.ndarray, *label_sets, codes: np.ndarray | None = None,
                 values: np.ndarray | None = None, python_objects: bool = False
                 ) -> list[pd.api.extensions.ExtensionArray | np.ndarray]:
    """For each row of `mask` (rows x slots), the labels of the slots where it holds, in slot order:
    one list column per set of labels (the same slots named in, e.g., English and Chinese).

    `codes` (mask's shape) picks the label of each slot (default: slot j has `labels[j]`);
    `values` (mask's shape), if given, makes a last list column of the same slots' numbers.
    Arrow-backed list arrays; `python_objects`: object arrays of Python lists.
    """
    mask = np.asarray(mask, dtype=bool)
    if python_objects:
        return _small_lists(mask, label_sets, codes, values)
    offsets = pa.array(np.concatenate([[0], np.cumsum(mask.sum(axis=1))]), pa.int32())
    slot_codes = pa.array(np.nonzero(mask)[1] if codes is None else np.asarray(codes)[mask], pa.int32())
    out = [pd.arrays.ArrowExtensionArray(pa.ListArray.from_arrays(
        offsets, pa.array(list(labels), pa.string()).take(slot_codes))) for labels in label_sets]
    if values is not None:
        out.append(pd.arrays.ArrowExtensionArray(
            pa.ListArray.from_arrays(offsets, pa.array(np.asarray(values, dtype=float)[mask], pa.float64()))))
    return out
