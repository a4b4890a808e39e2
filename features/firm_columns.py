"""Firm rows as named numpy columns: what a small request is scored from, without building a DataFrame.

Scoring reads rows by column name (`rows[name]`, `name in rows`, `len(rows)`, `rows.index`); a
DataFrame and a `FirmColumns` both answer those, so one scoring path serves batch files (pandas,
millions of rows) and HTTP requests (a few firms, where pandas' per-call overhead is the whole cost).
`column_array` reads either as a numpy array.
"""
from __future__ import annotations

import operator

import numpy as np
import pandas as pd

from innoscore.features.catalogue import Catalogue


class FirmColumns:
    """Named columns of equal length; `index` is 0..n-1."""

    def __init__(self, columns: dict[str, np.ndarray], numbers: tuple[tuple[str, ...], np.ndarray] | None = None):
        self._columns = columns
        self._n = len(next(iter(columns.values()))) if columns else 0
        self._numbers = numbers

    def number_block(self, names: tuple[str, ...]) -> np.ndarray | None:
        """The columns `names` as one rows x names float matrix, if they are the numbers the records
        were converted in one call (`from_records`): derivation reads them without a lookup per column."""
        if self._numbers is None or self._numbers[0] != names:
            return None
        return self._numbers[1]

    def __getitem__(self, name: str) -> np.ndarray:
        return self._columns[name]

    def __contains__(self, name: object) -> bool:
        return name in self._columns

    def __len__(self) -> int:
        return self._n

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    @property
    def index(self) -> pd.RangeIndex:
        return pd.RangeIndex(self._n)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self._columns)

    @classmethod
    def from_records(cls, records: list[dict], catalogue: Catalogue, extra: dict[str, type] | None = None
                     ) -> "FirmColumns":
        """Validated records (dicts, as the HTTP request model gives them) as typed columns: the firm id
        as text, numbers as float (None as NaN), categorical levels and `extra` columns of type str as
        objects, `extra` columns of type float as float."""
        id_col = catalogue.dataset.firm_id_column
        cols = {id_col: np.array([None if r.get(id_col) is None else str(r[id_col]) for r in records], dtype=object)}
        numbers = tuple(i.id for i in catalogue.indicators if i.type != "categorical")
        block = np.array(_values_of(records, numbers), dtype=float)
        block = block.reshape(len(records), len(numbers))
        column_of = dict(zip(numbers, np.ascontiguousarray(block.T)))
        for ind in catalogue.indicators:         # catalogue order; all numbers converted above in one call
            cols[ind.id] = (column_of[ind.id] if ind.id in column_of
                            else np.array([r.get(ind.id) for r in records], dtype=object))
        for name, kind in (extra or {}).items():
            if name not in cols:
                cols[name] = np.array([r.get(name) for r in records], dtype=object if kind is str else float)
        return cls(cols, (numbers, block))


def _values_of(records: list[dict], names: tuple[str, ...]) -> list:
    """Each record's values of `names` (None where a record leaves one out), row by row: one C-level
    lookup per record while every record has them all (3x a `dict.get` per value)."""
    if len(names) > 1:
        try:
            return list(map(operator.itemgetter(*names), records))
        except KeyError:
            pass
    return [[r.get(name) for name in names] for r in records]


def column_array(rows, name: str) -> np.ndarray:
    """Column `name` of a DataFrame or FirmColumns as a numpy array (no copy where none is needed)."""
    column = rows[name]
    return column if isinstance(column, np.ndarray) else column.to_numpy()


def missing_mask(values: np.ndarray) -> np.ndarray:
    """Which values are missing: NaN in a float column (a numpy call), None/NaN/NA otherwise."""
    return np.isnan(values) if values.dtype.kind == "f" else pd.isna(values)


def text_array(rows, name: str) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """Column `name` read as text (a firm id): a request's as an object array of str; a frame's as
    pandas text, Arrow-backed under pandas 3, so that a batch's millions of ids never become Python
    strings on their way from the input file to the output file."""
    column = rows[name]
    if not isinstance(column, np.ndarray):
        return column.astype(str).array
    if column.dtype == object and all(isinstance(v, str) for v in column):
        return column       # a request's ids, already text
    return pd.Series(column, copy=False).astype(str).to_numpy(dtype=object)
