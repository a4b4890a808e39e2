"""One way to name content by a short hash: policies, catalogues, data and report file names."""
from __future__ import annotations

import hashlib


def short_hash(*parts: str | bytes, length: int = 12) -> str:
    """The first `length` hex digits of the SHA-256 of `parts` (text as UTF-8), in order."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8") if isinstance(part, str) else part)
    return h.hexdigest()[:length]
