"""Training and scorecard settings, read from `configs/training.yaml` and `configs/scorecard.yaml`.

Typed and strict (innoscore.settings): an unknown or misspelled key is refused with the file, the key
and the reason. The registry names and aliases here are the one source for every default model URI.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from pydantic import Field

from innoscore.features.derive import FeatureConfig
from innoscore.model.estimators.reject_inference import Method as RejectMethod
from innoscore.model.grades import GradeScale
from innoscore.settings import Settings, load_settings

MODEL_KINDS = ("expert_scorecard", "woe_scorecard", "lightgbm")


class SplitSettings(Settings):
    """How rows are split (innoscore.model.evaluation.split); `innoscore train --split` overrides `kind`."""

    kind: Literal["auto", "time", "random", "column", "cv"] = "auto"
    test_years: int = Field(1, ge=1)       # time: the latest years, never used in fitting, tuning or calibration
    valid_years: int = Field(1, ge=1)      # time: the years before, for early stopping, tuning, calibration
    test_share: float = Field(0.2, gt=0, lt=0.5)    # random
    valid_share: float = Field(0.2, gt=0, lt=0.5)   # random, cv (the validation share of each fit)
    k: int = Field(5, ge=2)                # cv folds
    cv_below_rows: int = Field(2000, ge=0)  # auto: k-fold below this many rows (without dates), else random


class RegistrySettings(Settings):
    """Registered model names per model kind, and the aliases a new and a promoted version get."""

    lightgbm: str
    expert_scorecard: str
    woe_scorecard: str
    new_version_alias: str = "challenger"
    promoted_alias: str = "champion"

    def name_of(self, kind: str) -> str:
        return getattr(self, kind)

    def for_family(self, family: str | None) -> "RegistrySettings":
        """The names of another model family (`<family>-pd`, ...): two datasets never share a model."""
        if not family:
            return self
        return self.model_copy(update={"lightgbm": f"{family}-pd", "expert_scorecard": f"{family}-expert-scorecard",
                                       "woe_scorecard": f"{family}-woe-scorecard"})

    def model_uri(self, kind: str = "lightgbm", alias: str | None = None) -> str:
        """`models:/NAME@ALIAS`: by default the promoted (champion) LightGBM model, what is served."""
        return f"models:/{self.name_of(kind)}@{alias or self.promoted_alias}"


class SearchSettings(Settings):
    n_trials: int = Field(0, ge=0)         # optuna TPE budget (0 = no search)
    space: dict[str, tuple[int | float, int | float]] = {}
    candidates: list[dict[str, int | float]] = []   # always scored beside the configured parameters
    cv_below_rows: int = Field(0, ge=0)    # below this many train + valid rows, choose by k-fold AUC
    folds: int = Field(5, ge=2)


class LightGBMSettings(Settings):
    learning_rate: float = Field(gt=0)
    n_estimators: int = Field(ge=1)        # upper bound; early stopping picks the number of trees
    early_stopping_rounds: int = Field(ge=1)
    num_threads: int = Field(ge=1)
    calibration: Literal["platt_cross_fitted", "platt", "none"] = "platt_cross_fitted"
    calibration_folds: int = Field(5, ge=2)
    monotone: Literal["enforce", "supported", "off"] = "supported"   # innoscore.model.estimators.monotone
    monotone_level: float = Field(0.05, gt=0, lt=1)   # supported: Spearman p below this, with the declared sign
    refit_below_rows: int = Field(0, ge=0)             # refit on train + valid below this many rows (0: never)
    min_child_share: float = Field(1.0, gt=0, le=1)    # min_child_samples at most this share of the training rows
    params: dict[str, int | float] = {}
    search: SearchSettings = SearchSettings()


class RejectInferenceSettings(Settings):
    """How the declined applicants (`booked` false, no outcome) enter the LightGBM's training
    (innoscore.model.estimators.reject_inference; docs/reject-inference.md)."""

    method: RejectMethod = "none"
    parcel_factor: float = Field(1.5, gt=0)        # parcelling: a reject is bad with min(1, factor x PD)
    confident_share: float = Field(0.1, gt=0, lt=0.5)   # self-learning: the share labelled at each end
    kickout_acceptance_rate: float | None = Field(None, gt=0, lt=1)   # the kickout's share accepted (None: booked share)


class TrainingSettings(Settings):
    """configs/training.yaml."""

    seed: int
    experiment: str
    split: SplitSettings = SplitSettings()
    registry: RegistrySettings
    lightgbm: LightGBMSettings
    features: FeatureConfig = FeatureConfig()
    reject_inference: RejectInferenceSettings = RejectInferenceSettings()


class GradeBand(Settings):
    grade: str
    pd_max: float = Field(gt=0, le=1)
    zh: str
    en: str


class ExpertScorecardSettings(Settings):
    calibration: Literal["logistic", "isotonic"] = "logistic"


class WoEScorecardSettings(Settings):
    pdo: float = Field(20, gt=0)
    base_odds: float = Field(50, gt=0)
    base_score: float = 600
    max_n_bins: int = Field(6, ge=2)
    min_bin_size: float = Field(0.05, gt=0, lt=0.5)


class ScorecardSettings(Settings):
    """configs/scorecard.yaml."""

    grade_scale: list[GradeBand]
    expert_scorecard: ExpertScorecardSettings = ExpertScorecardSettings()
    woe_scorecard: WoEScorecardSettings = WoEScorecardSettings()


@dataclass(frozen=True)
class TrainingConfig:
    seed: int
    experiment: str
    split: SplitSettings
    registry: RegistrySettings
    lightgbm: LightGBMSettings
    features: FeatureConfig
    grade_scale: GradeScale
    expert_scorecard: ExpertScorecardSettings
    woe_scorecard: WoEScorecardSettings
    source_paths: tuple[Path, ...]
    reject_inference: RejectInferenceSettings = RejectInferenceSettings()

    @classmethod
    def load(cls, path: str | Path | None = None, scorecard_path: str | Path | None = None) -> "TrainingConfig":
        from innoscore.paths import DEFAULT_SCORECARD_CONFIG, DEFAULT_TRAINING_CONFIG

        path = Path(path or DEFAULT_TRAINING_CONFIG)
        scorecard_path = Path(scorecard_path or DEFAULT_SCORECARD_CONFIG)
        training = load_settings(TrainingSettings, path)
        scorecard = load_settings(ScorecardSettings, scorecard_path)
        return cls(seed=training.seed, experiment=training.experiment, split=training.split,
                   registry=training.registry, lightgbm=training.lightgbm, features=training.features,
                   grade_scale=GradeScale.from_list([b.model_dump() for b in scorecard.grade_scale]),
                   expert_scorecard=scorecard.expert_scorecard, woe_scorecard=scorecard.woe_scorecard,
                   source_paths=(path, scorecard_path), reject_inference=training.reject_inference)

    def with_reject_inference(self, method: str) -> "TrainingConfig":
        """The same settings with another reject-inference method (`innoscore train --reject-inference`)."""
        return replace(self, reject_inference=self.reject_inference.model_copy(update={"method": method}))

    def with_search_trials(self, n_trials: int) -> "TrainingConfig":
        """The same settings with another LightGBM search budget (notebooks, tests, benchmarks)."""
        search = self.lightgbm.search.model_copy(update={"n_trials": n_trials})
        return replace(self, lightgbm=self.lightgbm.model_copy(update={"search": search}))


def default_model_uri(kind: str = "lightgbm") -> str:
    """The champion of `kind` as configs/training.yaml names it: what serving and the CLI use by default."""
    return TrainingConfig.load().registry.model_uri(kind)
