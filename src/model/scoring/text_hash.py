"""64-bit hashes of text (firm ids) computed on their UTF-8 bytes in numpy, without Python strings.

The duplicate-id pass of batch scoring hashes every id of the input. pandas' `hash_array` needs the
ids as Python strings and hashes them one by one: 0.49 s for 1M ids read as Arrow text, a tenth of
scoring them. Here each byte is weighted by its position in its id, the weighted bytes are summed
per id and the sum is mixed with the id's length (SplitMix64's finaliser): 0.1 s. Equal texts
always hash equal; a collision of unequal texts is harmless where used (the duplicate pass
compares the exact ids behind every repeated hash).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

BLOCK_BYTES = 1_000_000     # bytes hashed at once: temporaries of ~10 MB, reused block after block (fewer page faults)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on uint64 values (numpy's uint64 arithmetic wraps, as it must here)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _hash_block(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Hashes of the texts whose bytes are data[offsets[i]:offsets[i + 1]]: each byte (plus one)
    times a weight drawn for its position, summed per text, mixed with the text's length."""
    lengths = np.diff(offsets)
    start, end = offsets[0], offsets[-1]
    position = np.arange(start, end) - np.repeat(offsets[:-1], lengths)
    weights = _mix(np.arange(1, int(lengths.max(initial=0)) + 1, dtype=np.uint64))
    terms = (data[start:end].astype(np.uint64) + np.uint64(1)) * weights[position]
    sums = np.zeros(len(lengths), dtype=np.uint64)
    filled = lengths > 0
    if filled.any():     # reduceat over the non-empty texts only: each sums up to the next one's start
        sums[filled] = np.add.reduceat(terms, offsets[:-1][filled] - start)
    return _mix(sums ^ _mix(lengths.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)))


def text_hashes(texts: pd.Series) -> np.ndarray:
    """A uint64 hash of each text of `texts` (no missing values; any string dtype)."""
    array = pa.array(texts).cast(pa.large_string())        # Arrow-backed text: no copy to Python strings
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset:array.offset + len(array) + 1]
    data_buffer = array.buffers()[2]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.empty(0, np.uint8)
    out = np.empty(len(array), dtype=np.uint64)
    first = 0
    while first < len(array):     # blocks of about BLOCK_BYTES bytes (at least one text each)
        last = max(first + 1, int(np.searchsorted(offsets, offsets[first] + BLOCK_BYTES, side="right")) - 1)
        last = min(last, len(array))
        out[first:last] = _hash_block(data, offsets[first:last + 1])
        first = last
    return out
