"""Rules of the form `column op value`, as the credit policy's knock-outs and the simulated past
policy write them: one table of operators."""
from __future__ import annotations

from typing import Literal

import numpy as np

Operator = Literal[">", ">=", "<", "<=", "==", "!="]
OPERATORS = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal, "==": np.equal,
             "!=": np.not_equal}


def holds(op: str, values, value: float) -> np.ndarray:
    """Where `values op value` holds (NaN never does, except for `!=`)."""
    return OPERATORS[op](values, value)
