"""The rating scale: PD bands from config, shared by every model so grades are comparable."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Grade:
    grade: str
    pd_max: float
    zh: str
    en: str


@dataclass(frozen=True)
class GradeScale:
    grades: tuple[Grade, ...]

    @classmethod
    def from_list(cls, raw: list[dict]) -> "GradeScale":
        grades = tuple(Grade(**g) for g in raw)
        bounds = [g.pd_max for g in grades]
        if any(b <= a for a, b in zip(bounds, bounds[1:])) or bounds[-1] < 1.0:
            raise ValueError(f"grade_scale pd_max must increase and end at 1.0, got {bounds}")
        return cls(grades)

    @property
    def labels(self) -> list[str]:
        return [g.grade for g in self.grades]

    def positions(self, pd_values) -> np.ndarray:
        """Position in the scale of each PD's grade (the first band whose upper bound is >= PD)."""
        idx = np.searchsorted([g.pd_max for g in self.grades], np.asarray(pd_values, dtype=float), side="left")
        return np.minimum(idx, len(self.grades) - 1)

    def assign(self, pd_values) -> np.ndarray:
        """Grade label for each PD."""
        return np.asarray(self.labels, dtype=object)[self.positions(pd_values)]

    def describe(self, label: str, lang: str) -> str:
        g = next(g for g in self.grades if g.grade == label)
        return g.zh if lang == "zh" else g.en
