"""Per-row list columns (missing indicators, top reasons, decision reasons) built as Arrow lists.

A Python loop per firm costs more than scoring it; these are built in a few vectorised passes and
handed to pandas as object arrays of arrays, which both batch engines write to Parquet alike and
which align with any row index.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa


def masked_lists(mask: np.ndarray, names: np.ndarray, values: np.ndarray | None = None) -> list[np.ndarray]:
    """For each row of `mask` (rows x slots), the `names` (and `values`, if given) where it holds,
    in slot order. `names` and `values` have `mask`'s shape (broadcast a row of labels)."""
    names = np.broadcast_to(np.asarray(names, dtype=object), mask.shape)
    offsets = pa.array(np.concatenate([[0], np.cumsum(mask.sum(axis=1))]), pa.int32())
    out = [pa.ListArray.from_arrays(offsets, pa.array(names[mask], pa.string())).to_pandas().to_numpy()]
    if values is not None:
        out.append(pa.ListArray.from_arrays(offsets, pa.array(values[mask], pa.float64())).to_pandas().to_numpy())
    return out
