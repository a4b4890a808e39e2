"""The indicator catalogue: the bank's evaluation system as data, checked when loaded.

Every later stage (validation, features, scorecards, explanations, serving) reads the catalogue,
so a different dataset described by a different catalogue runs with no code change.
"""
from __future__ import annotations

from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from innoscore.hashing import short_hash
from innoscore.settings import SettingsError, read_yaml

IndicatorType = Literal["numeric", "count", "boolean", "ordinal", "categorical"]
Transform = Literal["none", "log"]          # log: the model also sees log(1 + max(value, 0))
ValueFormat = Literal["number", "percent"]  # percent: a fraction shown as 12.5%
_POINTS_TOLERANCE = 1e-9


class CatalogueError(ValueError):
    """A catalogue file that cannot be used, with a message saying where and why."""


class Direction(str, Enum):
    higher_better = "higher_better"
    higher_worse = "higher_worse"
    non_monotone = "non_monotone"


class MissingMeaning(str, Enum):
    """What an empty value means: not known, a true zero, or not applicable (e.g. no patents)."""

    not_allowed = "not_allowed"
    unknown = "unknown"
    zero = "zero"
    not_applicable = "not_applicable"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _chinese_defaults_to_english(raw, zh: str = "zh", en: str = "en"):
    """Chinese names are optional: where a catalogue gives only English, English is shown in both."""
    if isinstance(raw, dict) and raw.get(zh) is None and raw.get(en) is not None:
        return {**raw, zh: raw[en]}
    return raw


def both_languages(zh: str, en: str, sep: str = " / ") -> str:
    """A name in Chinese and English, said once when the two are the same (a catalogue without
    Chinese names)."""
    return zh if zh == en else f"{zh}{sep}{en}"


class Text(_Strict):
    zh: str
    en: str

    _zh_default = model_validator(mode="before")(lambda raw: _chinese_defaults_to_english(raw))


class Level(_Strict):
    value: int | str
    zh: str
    en: str

    _zh_default = model_validator(mode="before")(lambda raw: _chinese_defaults_to_english(raw))


class Bins(_Strict):
    thresholds: list[float]
    points: list[float]


class Action(_Strict):
    """How a firm can change an indicator, for counterfactuals ("what would it take"): docs/catalogue.md."""

    actionable: bool = True                 # false: history, age, facts a firm cannot change (e.g. past overdue)
    direction: Literal["increase", "decrease", "either"] | None = None   # None: the way that lowers risk
    bounds: tuple[float, float] | None = None    # None: the indicator's valid_range
    step: float | None = Field(None, gt=0)       # None: 1 for counts, ordinals and booleans; else the shown precision
    cost: float = Field(1.0, gt=0)               # effort of moving from the 10th to the 90th percentile of peers
    max_change: float | None = Field(None, gt=0)    # the most a value may move, relative (None: the search's default)

    @model_validator(mode="after")
    def _check(self) -> "Action":
        if self.bounds is not None and self.bounds[0] > self.bounds[1]:
            raise ValueError(f"action bounds {list(self.bounds)} have min > max")
        return self


class Category(_Strict):
    id: str
    name_zh: str
    name_en: str
    points: float = 0.0      # expert points of the category (the sum of its indicators' points)

    _zh_default = model_validator(mode="before")(lambda raw: _chinese_defaults_to_english(raw, "name_zh", "name_en"))


def _awarded(raw: dict) -> float:
    """The most points an indicator's expert table awards (0 without one)."""
    bins, level_points = raw.get("bins"), raw.get("level_points")
    if isinstance(bins, dict) and bins.get("points"):
        return float(max(bins["points"]))
    if isinstance(level_points, dict) and level_points:
        return float(max(level_points.values()))
    return 0.0


class Indicator(_Strict):
    id: str
    name_zh: str
    name_en: str
    category: str
    type: IndicatorType
    unit: Text = Text(zh="", en="")
    valid_range: tuple[float, float] | None = None
    missing: MissingMeaning = MissingMeaning.unknown
    direction: Direction = Direction.non_monotone
    monotone: Literal["enforce", "supported", "off"] | None = None   # overrides the training policy
    points: float = 0.0      # expert points: the best bin's (0: not in the expert scorecard)
    bins: Bins | None = None
    levels: list[Level] | None = None
    level_points: dict[str, float] | None = None
    transform: Transform = "none"
    format: ValueFormat = "number"
    decimals: int | None = Field(None, ge=0)   # precision the values are recorded with (the generator rounds to it)
    action: Action = Action()

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, raw):
        """Chinese name optional; `points` defaults to what the expert table awards."""
        raw = _chinese_defaults_to_english(raw, "name_zh", "name_en")
        if isinstance(raw, dict) and raw.get("points") is None:
            raw = {**raw, "points": _awarded(raw)}
        return raw

    @model_validator(mode="after")
    def _check(self) -> "Indicator":
        where = f"indicator '{self.id}'"
        if self.valid_range is not None and self.valid_range[0] > self.valid_range[1]:
            raise ValueError(f"{where}: valid_range {list(self.valid_range)} has min > max")
        if self.type in ("ordinal", "categorical") and not self.levels:
            raise ValueError(f"{where}: type {self.type} needs 'levels'")
        awarded = 0.0
        if self.type == "categorical" and self.level_points is not None:
            unknown = set(self.level_points) - {str(lv.value) for lv in self.levels}
            if unknown:
                raise ValueError(f"{where}: level_points names unknown levels {sorted(unknown)}")
            awarded = max(self.level_points.values())
        elif self.type == "categorical" and self.bins is not None:
            raise ValueError(f"{where}: a categorical indicator scores its levels with 'level_points', not 'bins'")
        elif self.bins is not None:
            t, p = self.bins.thresholds, self.bins.points
            if any(b <= a for a, b in zip(t, t[1:])):
                raise ValueError(f"{where}: bin thresholds {t} are not strictly increasing")
            if len(p) != len(t) + 1:
                raise ValueError(
                    f"{where}: {len(t)} thresholds need {len(t) + 1} bin points, got {len(p)}"
                )
            awarded = max(p)
        elif self.level_points is not None:
            raise ValueError(f"{where}: 'level_points' are for categorical indicators; use 'bins'")
        if abs(awarded - self.points) > _POINTS_TOLERANCE:
            if not self.has_expert_points:
                raise ValueError(f"{where}: 'points' is {self.points} but there are no bins or level_points "
                                 "to award them")
            raise ValueError(f"{where}: best bin awards {awarded} points but 'points' is {self.points}")
        if self.transform != "none" and self.type in ("boolean", "ordinal", "categorical"):
            raise ValueError(f"{where}: transform '{self.transform}' applies to numeric and count indicators, "
                             f"not to type {self.type}")
        if self.type == "ordinal" and self.valid_range is not None:
            values = [lv.value for lv in self.levels]
            if min(values) < self.valid_range[0] or max(values) > self.valid_range[1]:
                raise ValueError(f"{where}: levels {values} fall outside valid_range")
        return self

    @property
    def has_expert_points(self) -> bool:
        """Whether the bank's expert scorecard scores this indicator (bins or level points)."""
        return self.bins is not None or self.level_points is not None

    @property
    def missing_allowed(self) -> bool:
        return self.missing is not MissingMeaning.not_allowed

    @property
    def is_monotone(self) -> bool:
        return self.direction is not Direction.non_monotone

    @property
    def level_values(self) -> list:
        return [lv.value for lv in self.levels or []]

    def level_label(self, value, lang: str) -> str | None:
        for lv in self.levels or []:
            if lv.value == value or str(lv.value) == str(value):
                return getattr(lv, lang)
        return None

    def name(self, lang: str) -> str:
        return self.name_zh if lang == "zh" else self.name_en

    @property
    def feasible_direction(self) -> Literal["increase", "decrease", "either"] | None:
        """How a firm may move this indicator: None if it cannot (not actionable, or categorical); by
        default the way that lowers risk; a non-monotone indicator only as its `action.direction`
        says (which way helps depends on where the firm stands: not the model's to advise)."""
        if not self.action.actionable or self.type == "categorical":
            return None
        if self.action.direction is not None:
            return self.action.direction
        return {Direction.higher_better: "increase", Direction.higher_worse: "decrease"}.get(self.direction)

    @property
    def action_bounds(self) -> tuple[float, float]:
        bounds = self.action.bounds or self.valid_range
        return (float(bounds[0]), float(bounds[1])) if bounds is not None else (-np.inf, np.inf)

    @property
    def action_step(self) -> float:
        """The grid a changed value lies on: the declared step, 1 for counts, levels and booleans,
        else the precision a reason shows (`display_step`), so that the value shown is the one scored."""
        if self.action.step is not None:
            return self.action.step
        return 1.0 if self.type in ("count", "ordinal", "boolean") else self.display_step

    @property
    def display_step(self) -> float:
        """The precision a value is shown with: 0.1% for percentages, 0.01 for other numbers, coarser
        where the catalogue's `decimals` says the data is recorded coarser."""
        shown = 3 if self.format == "percent" else 2
        return 10.0 ** -(shown if self.decimals is None else min(shown, self.decimals))


ROW_ID_COLUMN = "row_number"   # the firm id of data without an id column: the row's number in its input


def target_key(value) -> str:
    """How a target value is compared with the catalogue's coding: 1, 1.0 and "1" are the same."""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value).strip()
    return str(int(number)) if number.is_integer() else repr(number)


class DatasetColumns(_Strict):
    id_column: str | None = None        # None: rows are numbered (ROW_ID_COLUMN) and outputs say so
    date_column: str | None = None      # enables the out-of-time split
    target_column: str | None = None
    target_bad_values: list[int | float | str] = [1]    # target values that mean default (bad)
    target_good_values: list[int | float | str] = [0]   # target values that mean no default (good)
    split_column: str | None = None     # a column saying train / valid / test for each row
    truth_column: str | None = None
    context_columns: list[str] = Field(default_factory=list)
    context_labels: dict[str, Text] = Field(default_factory=dict)
    context_levels: dict[str, dict[str, Text]] = Field(default_factory=dict)   # column -> value -> label
    horizon_months: int = Field(12, ge=1, le=600)     # the outcome's horizon: what "PD (N months)" says

    @model_validator(mode="after")
    def _check(self) -> "DatasetColumns":
        both = {target_key(v) for v in self.target_bad_values} & {target_key(v) for v in self.target_good_values}
        if both:
            raise ValueError(f"target values {sorted(both)} are listed as both bad and good")
        if not self.target_bad_values:
            raise ValueError("target_bad_values must name at least one value")
        return self

    @property
    def firm_id_column(self) -> str:
        """The column that identifies a firm in inputs and outputs (the row number without an id column)."""
        return self.id_column or ROW_ID_COLUMN

    def target_codes(self) -> dict[str, float]:
        """Target value (as `target_key`) -> 1.0 for bad, 0.0 for good."""
        return {**{target_key(v): 0.0 for v in self.target_good_values},
                **{target_key(v): 1.0 for v in self.target_bad_values}}

    def context_label(self, column: str, lang: str) -> str:
        label = self.context_labels.get(column)
        return getattr(label, lang) if label else column

    def context_value(self, column: str, value, lang: str) -> str:
        """A context value as people read it: its label in `context_levels`, else the value itself."""
        label = self.context_levels.get(column, {}).get(str(value))
        return getattr(label, lang) if label else str(value)

    def pd_label(self, lang: str) -> str:
        """"PD (N months)" in `lang`, from the outcome's horizon."""
        h = self.horizon_months
        return f"违约概率（{h}个月）" if lang == "zh" else f"Probability of default ({h} months)"


class Relation(_Strict):
    """An indicator defined by two others, `id` = `numerator` / `denominator` (e.g. R&D intensity = R&D
    expense / revenue): a change to either moves it, and `validate` reports rows that contradict it
    by more than `tolerance` (relative)."""

    id: str
    numerator: str
    denominator: str
    tolerance: float = Field(0.05, ge=0)


class ExplanationSettings(_Strict):
    min_contribution: float = Field(0.005, ge=0)    # smaller contributions (log-odds) are not said as reasons


class Catalogue(_Strict):
    version: str
    name_zh: str
    name_en: str
    model_family: str | None = None     # registered model names: <family>-pd, <family>-woe-scorecard, ...
    dataset: DatasetColumns
    categories: list[Category]
    indicators: list[Indicator]
    total_points: float | None = None
    explanations: ExplanationSettings = Field(default_factory=ExplanationSettings)
    relations: list[Relation] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, raw):
        """Chinese names optional; a category's points default to the sum of its indicators' points."""
        raw = _chinese_defaults_to_english(raw, "name_zh", "name_en")
        if isinstance(raw, dict) and isinstance(raw.get("categories"), list) and isinstance(raw.get("indicators"), list):
            def total(cat_id):
                return sum(i.get("points") if i.get("points") is not None else _awarded(i)
                           for i in raw["indicators"] if isinstance(i, dict) and i.get("category") == cat_id)
            raw = {**raw, "categories": [{**c, "points": total(c.get("id"))}
                                         if isinstance(c, dict) and c.get("points") is None else c
                                         for c in raw["categories"]]}
        return raw

    @model_validator(mode="after")
    def _check(self) -> "Catalogue":
        _no_duplicates("category", [c.id for c in self.categories])
        _no_duplicates("indicator", [i.id for i in self.indicators])
        if not self.indicators:
            raise ValueError("the catalogue has no indicators")
        category_ids = {c.id for c in self.categories}
        for ind in self.indicators:
            if ind.category not in category_ids:
                raise ValueError(
                    f"indicator '{ind.id}' names unknown category '{ind.category}' "
                    f"(known: {sorted(category_ids)})"
                )
        for cat in self.categories:
            total = sum(i.points for i in self.indicators if i.category == cat.id)
            if abs(total - cat.points) > 1e-6:
                raise ValueError(
                    f"category '{cat.id}' declares {cat.points} points but its indicators add up to {total:g}"
                )
        expected_total = self.total_points
        if expected_total is not None and abs(sum(c.points for c in self.categories) - expected_total) > 1e-6:
            raise ValueError(f"categories add up to {sum(c.points for c in self.categories):g}, not {expected_total:g}")
        reserved = {self.dataset.firm_id_column, self.dataset.date_column, self.dataset.target_column,
                    self.dataset.truth_column, self.dataset.split_column, *self.dataset.context_columns} - {None}
        clash = reserved & {i.id for i in self.indicators}
        if clash:
            raise ValueError(f"indicator ids {sorted(clash)} clash with dataset columns")
        ids = {i.id for i in self.indicators}
        for r in self.relations:
            unknown = [x for x in (r.id, r.numerator, r.denominator) if x not in ids]
            if unknown:
                raise ValueError(f"relation '{r.id} = {r.numerator} / {r.denominator}' names unknown indicators {unknown}")
        return self

    def __repr__(self) -> str:
        return f"Catalogue(version={self.version!r}, indicators={len(self.indicators)})"

    def __reduce__(self):
        # Pickle as plain data, re-checked on load: a model stored before a new optional field was
        # added to the catalogue format still loads in newer code.
        return (Catalogue.model_validate, (self.model_dump(mode="json"),))

    @cached_property
    def by_id(self) -> dict[str, Indicator]:
        return {i.id: i for i in self.indicators}

    @cached_property
    def category_by_id(self) -> dict[str, Category]:
        return {c.id: c for c in self.categories}

    @property
    def indicator_ids(self) -> list[str]:
        return [i.id for i in self.indicators]

    @cached_property
    def indicator_id_set(self) -> frozenset[str]:
        return frozenset(self.indicator_ids)

    @property
    def category_ids(self) -> list[str]:
        return [c.id for c in self.categories]

    def indicators_in(self, category_id: str) -> list[Indicator]:
        return [i for i in self.indicators if i.category == category_id]

    @cached_property
    def category_positions(self) -> dict[str, np.ndarray]:
        """Each category's indicators by their positions in the catalogue, as index arrays (built once:
        scoring sums category points per request)."""
        position = {ind: j for j, ind in enumerate(self.indicator_ids)}
        return {c: np.array([position[i.id] for i in self.indicators_in(c)], dtype=np.intp) for c in self.category_ids}

    def category_totals(self, per_indicator: np.ndarray) -> dict[str, np.ndarray]:
        """Row sums of a rows x indicators array (catalogue order) within each category."""
        return {c: per_indicator[:, cols].sum(axis=1) for c, cols in self.category_positions.items()}

    @property
    def max_points(self) -> float:
        return float(sum(c.points for c in self.categories))

    @property
    def has_expert_points(self) -> bool:
        """Whether any indicator is in the bank's expert scorecard (else that model is skipped)."""
        return any(i.has_expert_points for i in self.indicators)

    def fingerprint(self) -> str:
        """A short hash of the catalogue content, recorded with every model and report."""
        return short_hash(self.model_dump_json())


def _no_duplicates(kind: str, ids: list[str]) -> None:
    seen, dupes = set(), []
    for i in ids:
        if i in seen:
            dupes.append(i)
        seen.add(i)
    if dupes:
        raise ValueError(f"duplicate {kind} id(s): {sorted(set(dupes))}")


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load and check a catalogue YAML file; raise `CatalogueError` naming the problem."""
    from innoscore.paths import DEFAULT_CATALOGUE

    path = Path(path) if path is not None else DEFAULT_CATALOGUE
    try:
        raw = read_yaml(path)
    except SettingsError as exc:
        raise CatalogueError(f"catalogue: {exc}") from None
    try:
        return Catalogue.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_format_error(e, raw) for e in exc.errors())
        raise CatalogueError(f"catalogue {path} is invalid: {problems}") from None


def _format_error(err: dict, raw: dict) -> str:
    loc = list(err["loc"])
    if len(loc) >= 2 and loc[0] == "indicators" and isinstance(loc[1], int):
        try:
            loc[1] = raw["indicators"][loc[1]].get("id", loc[1])
        except (IndexError, AttributeError, KeyError):
            pass
    msg = err["msg"].removeprefix("Value error, ")
    where = ".".join(str(p) for p in loc)
    return f"{where}: {msg}" if where else msg
