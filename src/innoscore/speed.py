"""The one seam for speed: what counts as request-sized, and what is built once per object.

Domain code reads as if speed were free: it asks `request_sized(n)` where a few rows take another
path than a batch (a dictionary lookup instead of an index, one broadcast comparison instead of a
binary search per column), always with the same result and the same types; and it builds what it
derives from a catalogue, a policy or a booster through `per_object`, so that a request does not
build it again. A value-keyed pure function uses `functools.lru_cache`; an object's own derived
attribute `functools.cached_property`.
"""
from __future__ import annotations

import functools
import threading
import weakref
from typing import Callable, Generic, TypeVar

REQUEST_ROWS = 512      # up to this many rows (an HTTP request's firms) Python objects cost less than indexes


def request_sized(rows: int) -> bool:
    """Whether `rows` rows are few enough for the request path (see the module docstring)."""
    return rows <= REQUEST_ROWS


Owner = TypeVar("Owner")
Value = TypeVar("Value")


class PerObject(Generic[Owner, Value]):
    """`build(owner, *args)` built once per live owner (by identity, so that unhashable pydantic
    models serve too) and per `args`, and dropped when the owner is garbage: a cache that never
    outlives what it describes. Not pickled with the owner."""

    def __init__(self, build: Callable[..., Value]):
        self.build = build
        self._values: dict[tuple, Value] = {}
        self._lock = threading.Lock()
        functools.update_wrapper(self, build)

    def __call__(self, owner: Owner, *args) -> Value:
        key = (id(owner), *args)
        value = self._values.get(key)
        if value is None:
            value = self.build(owner, *args)
            with self._lock:
                if key not in self._values:
                    weakref.finalize(owner, self._values.pop, key, None)
                self._values[key] = value
        return value

    def __len__(self) -> int:
        return len(self._values)


def per_object(build: Callable[..., Value]) -> PerObject:
    """Decorator: see `PerObject`."""
    return PerObject(build)
