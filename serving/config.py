"""Serving settings from configs/serving.yaml."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class ServingConfig:
    model_uri: str
    max_firms_per_request: int
    default_top_k: int
    max_top_k: int
    public_paths: tuple[str, ...]

    @classmethod
    def load(cls, path: str | Path | None = None) -> "ServingConfig":
        from innoscore.paths import DEFAULT_SERVING_CONFIG

        raw = yaml.safe_load(Path(path or DEFAULT_SERVING_CONFIG).read_text(encoding="utf-8"))
        raw["public_paths"] = tuple(raw.get("public_paths", ()))
        return cls(**raw)
