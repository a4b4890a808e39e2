"""Training and scorecard configuration, read from `configs/` (data, not code)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from innoscore.features.derive import FeatureConfig
from innoscore.model.grades import GradeScale


def _read_yaml(path: Path) -> dict:
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ValueError(f"config file not found: {path}") from None


@dataclass(frozen=True)
class TrainingConfig:
    seed: int
    experiment: str
    split: dict
    registry: dict
    lightgbm: dict
    features: FeatureConfig
    grade_scale: GradeScale
    expert_scorecard: dict
    woe_scorecard: dict
    source_paths: tuple[Path, ...]

    @classmethod
    def load(cls, path: str | Path | None = None, scorecard_path: str | Path | None = None) -> "TrainingConfig":
        from innoscore.paths import DEFAULT_SCORECARD_CONFIG, DEFAULT_TRAINING_CONFIG

        path = Path(path or DEFAULT_TRAINING_CONFIG)
        scorecard_path = Path(scorecard_path or DEFAULT_SCORECARD_CONFIG)
        raw, sc = _read_yaml(path), _read_yaml(scorecard_path)
        missing = {"seed", "experiment", "split", "registry", "lightgbm"} - set(raw)
        if missing:
            raise ValueError(f"training config {path} lacks {sorted(missing)}")
        return cls(seed=int(raw["seed"]), experiment=raw["experiment"], split=raw["split"],
                   registry=raw["registry"], lightgbm=raw["lightgbm"],
                   features=FeatureConfig.from_dict(raw.get("features")),
                   grade_scale=GradeScale.from_list(sc["grade_scale"]),
                   expert_scorecard=sc.get("expert_scorecard", {}), woe_scorecard=sc.get("woe_scorecard", {}),
                   source_paths=(path, scorecard_path))
