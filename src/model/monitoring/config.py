"""Monitoring settings from configs/monitoring.yaml: traffic-light thresholds and the inference log."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from innoscore.settings import Settings, load_settings

Light = Literal["green", "amber", "red", "grey"]
LIGHT_ORDER = {"grey": 0, "green": 1, "amber": 2, "red": 3}


class Thresholds(Settings):
    """Amber and red limits of one statistic: `light_above` for values where large is bad (PSI,
    shifts), `light_below` for p-values."""

    amber: float
    red: float

    def light_above(self, value: float) -> Light:
        """Large values are bad (PSI, shifts, drops)."""
        if value != value:
            return "grey"
        return "red" if value >= self.red else "amber" if value >= self.amber else "green"

    def light_below(self, p_value: float) -> Light:
        """Small values are bad (p-values)."""
        if p_value != p_value:
            return "grey"
        return "red" if p_value < self.red else "amber" if p_value < self.amber else "green"


class InferenceLogConfig(Settings):
    """The `inference_log` section of configs/serving.yaml."""

    directory: str | None = None          # None: off
    max_queue: int = Field(10_000, ge=1)
    flush_every_s: float = Field(5.0, gt=0)       # at most this much of scored firms is lost to a SIGKILL
    retry_every_s: float = Field(0.5, gt=0)       # a failed write is retried this often (nothing is dropped)
    max_rows_per_file: int = Field(100_000, ge=1)


class MonitoringConfig(Settings):
    stability: Thresholds = Thresholds(amber=0.10, red=0.25)
    missing_shift: Thresholds = Thresholds(amber=0.05, red=0.10)
    backtest: Thresholds = Thresholds(amber=0.05, red=0.01)
    hosmer_lemeshow: Thresholds = Thresholds(amber=0.05, red=0.01)
    auc_drop: Thresholds = Thresholds(amber=0.0, red=0.05)
    calibration_slope: Thresholds = Thresholds(amber=0.2, red=0.4)
    min_firms: int = Field(100, ge=1)
    min_firms_per_grade: int = Field(30, ge=1)   # fewer firms in a grade (or overall): its backtest light is grey
    min_defaults: int = Field(5, ge=1)

    @model_validator(mode="after")
    def _check(self) -> "MonitoringConfig":
        for name in ("stability", "missing_shift", "auc_drop", "calibration_slope"):
            t = getattr(self, name)
            if t.red < t.amber:
                raise ValueError(f"{name}: red ({t.red}) must be at least amber ({t.amber})")
        for name in ("backtest", "hosmer_lemeshow"):
            t = getattr(self, name)
            if not 0 < t.red <= t.amber < 1:
                raise ValueError(f"{name}: p-value limits need 0 < red ({t.red}) <= amber ({t.amber}) < 1")
        return self

    @classmethod
    def load(cls, path: str | Path | None = None) -> "MonitoringConfig":
        from innoscore.paths import DEFAULT_MONITORING_CONFIG

        return load_settings(cls, path or DEFAULT_MONITORING_CONFIG)


def worst(lights) -> Light:
    return max(lights, key=LIGHT_ORDER.__getitem__, default="grey")
