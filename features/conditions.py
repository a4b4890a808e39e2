"""Rules of the form `column op value`, as the credit policy's knock-outs and small-firm tests and
the simulated past policy write them: one class and one table of operators."""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import ConfigDict

from innoscore.settings import Settings

Operator = Literal[">", ">=", "<", "<=", "==", "!="]
OPERATORS = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal, "==": np.equal,
             "!=": np.not_equal}


class Condition(Settings):
    """`column op value`; strict types, so that `value: "3"` (text) is refused, not read."""
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    column: str
    op: Operator
    value: float

    def holds(self, values: np.ndarray) -> np.ndarray:
        """Where the condition holds for numbers `values` (NaN never holds, except for `!=`)."""
        return OPERATORS[self.op](values, self.value)


def holds_any(rows, conditions: list[Condition], numbers) -> np.ndarray:
    """Where any condition holds; `numbers(rows, column)` reads a column as floats (NaN where absent,
    and a missing column or value fires no rule but `!=`)."""
    out = np.zeros(len(rows), dtype=bool)
    for c in conditions:
        out |= c.holds(numbers(rows, c.column))
    return out
