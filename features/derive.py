"""Model features derived from the catalogue's indicators, each recording the indicators it comes from.

The record of sources is what lets explanations fold a derived feature's contribution back onto
catalogue indicators and categories; the monotone sign follows the catalogue's direction of risk.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from innoscore.features.catalogue import Catalogue, Direction, MissingMeaning
from innoscore.features.expert_points import expert_points_table
from innoscore.features.firm_columns import FirmColumns, column_array, missing_mask
from innoscore.settings import Settings
from innoscore.speed import per_object, request_sized

_MONOTONE = {Direction.higher_worse: 1, Direction.higher_better: -1, Direction.non_monotone: 0}


@dataclass(frozen=True)
class DerivedFeature:
    id: str
    sources: tuple[str, ...]
    kind: str          # indicator | log | ratio | category_points | missing_flag
    monotone: int      # +1: PD rises with it, -1: PD falls, 0: unconstrained
    categorical: bool = False


class Ratio(Settings):
    """A ratio of two catalogue indicators, derived when both are in the catalogue."""

    id: str
    numerator: str
    denominator: str
    zh: str = ""
    en: str = ""


class FeatureConfig(Settings):
    """Which derived features the LightGBM model sees (the `features` section of configs/training.yaml)."""

    missing_flags: bool = True        # one flag per indicator that may be missing
    transforms: bool = True           # apply each indicator's catalogue `transform` (e.g. log)
    category_points: bool = True      # expert points per category as features
    ratios: tuple[Ratio, ...] = ()
    size_normalised: tuple[str, ...] = ()   # indicators that reach the model only through ratios, points, flags


def level_codes(values: np.ndarray, levels: list) -> np.ndarray:
    """Each value's position among `levels` as a float (compared as text), NaN for missing or unknown."""
    if request_sized(len(values)):   # a dictionary lookup beats building an index
        codes = {str(v): float(i) for i, v in enumerate(levels)}
        return np.array([np.nan if pd.isna(v) else codes.get(str(v), np.nan) for v in values], dtype=float)
    text = pd.Series(values, copy=False).astype(str).where(pd.notna(values), None)
    found = pd.Index([str(v) for v in levels]).get_indexer(text)
    return np.where(found < 0, np.nan, found.astype(float))


@dataclass(frozen=True)
class Derived:
    """What one pass over firm rows yields: indicator values, their expert points, the model matrix."""
    values: np.ndarray   # rows x indicators (catalogue order), as the model sees them
    points: np.ndarray   # rows x indicators, the expert scorecard's points
    matrix: np.ndarray   # rows x derived features
    missing: np.ndarray  # rows x indicators, True where the value was missing as received
    category_totals: dict[str, np.ndarray]   # expert points per category (catalogue order of categories)


@dataclass(frozen=True)
class SourceGroup:
    """The features of one kind built from several indicators, their sources padded to one width:
    `positions` (features x width) of the sources among the indicators, `mask` where a source is
    real, and `scatter` ((features x width) x indicators) that adds per-source values onto indicators."""
    kind: str
    features: np.ndarray
    positions: np.ndarray
    mask: np.ndarray
    scatter: np.ndarray

    @classmethod
    def of(cls, kind: str, chosen: list[tuple[int, "DerivedFeature"]], col: dict[str, int]) -> "SourceGroup":
        width = max(len(f.sources) for _, f in chosen)
        positions = np.zeros((len(chosen), width), int)
        mask = np.zeros((len(chosen), width), bool)
        for r, (_, f) in enumerate(chosen):
            positions[r, :len(f.sources)] = [col[s] for s in f.sources]
            mask[r, :len(f.sources)] = True
        scatter = np.zeros((positions.size, len(col)))
        scatter[np.flatnonzero(mask.ravel()), positions.ravel()[mask.ravel()]] = 1.0
        return cls(kind, np.array([k for k, _ in chosen], int), positions, mask, scatter)


@dataclass(frozen=True)
class _FeaturePlan:
    """A feature set as index arrays, one group per kind of derived feature (see `FeatureSet.derive`)."""
    indicator_ids: list[str]
    levels: list[list | None]            # per indicator: the level values of a categorical, else None
    categorical: list[int]               # the positions of the categoricals
    numbers: tuple[tuple[str, ...], np.ndarray]     # the other indicators: (ids, positions)
    zero_filled: np.ndarray              # indicators whose missing value means zero
    copied: tuple[np.ndarray, np.ndarray]     # (feature positions, indicator positions)
    logged: tuple[np.ndarray, np.ndarray]
    ratio_out: np.ndarray
    ratio_num: np.ndarray
    ratio_den: np.ndarray
    category_out: list[tuple[int, str]]
    flagged: tuple[np.ndarray, np.ndarray]
    one_source: np.ndarray               # features x indicators: 1 where a one-source feature comes from
    several_sources: list["SourceGroup"]  # features of several indicators, one group per kind

    @classmethod
    def of(cls, features: "FeatureSet") -> "_FeaturePlan":
        cat = features.catalogue
        col = {ind: j for j, ind in enumerate(cat.indicator_ids)}

        def pairs(kind: str) -> tuple[np.ndarray, np.ndarray]:
            chosen = [(k, col[f.sources[0]]) for k, f in enumerate(features.features) if f.kind == kind]
            return np.array([k for k, _ in chosen], int), np.array([j for _, j in chosen], int)

        ratios = [(k, f) for k, f in enumerate(features.features) if f.kind == "ratio"]
        return cls(
            indicator_ids=cat.indicator_ids,
            levels=[i.level_values if i.type == "categorical" else None for i in cat.indicators],
            categorical=[j for j, i in enumerate(cat.indicators) if i.type == "categorical"],
            numbers=(tuple(i.id for i in cat.indicators if i.type != "categorical"),
                     np.array([j for j, i in enumerate(cat.indicators) if i.type != "categorical"], int)),
            zero_filled=np.array([j for j, i in enumerate(cat.indicators) if i.missing is MissingMeaning.zero], int),
            copied=pairs("indicator"), logged=pairs("log"),
            ratio_out=np.array([k for k, _ in ratios], int),
            ratio_num=np.array([col[f.sources[0]] for _, f in ratios], int),
            ratio_den=np.array([col[f.sources[1]] for _, f in ratios], int),
            category_out=[(k, cat.by_id[f.sources[0]].category) for k, f in enumerate(features.features)
                          if f.kind == "category_points"],
            flagged=pairs("missing_flag"),
            one_source=np.array([[float(len(f.sources) == 1 and f.sources[0] == ind) for ind in cat.indicator_ids]
                                 for f in features.features]).reshape(len(features.features), len(col)),
            several_sources=[SourceGroup.of(kind, [(k, f) for k, f in enumerate(features.features)
                                                   if f.kind == kind and len(f.sources) > 1], col)
                             for kind in ("category_points", "ratio")
                             if any(f.kind == kind and len(f.sources) > 1 for f in features.features)])


class FeatureSet:
    """The derived features for one catalogue; `transform` turns firm rows into a model matrix."""

    def __init__(self, catalogue: Catalogue, config: FeatureConfig | None = None,
                 monotone: dict[str, int] | None = None):
        """`monotone`: the sign LightGBM is constrained to per indicator id and per `points_<category>`
        (+1 PD rises, -1 falls, 0 free; absent: 0); None: every catalogue direction, the category
        points falling (innoscore.model.estimators.monotone decides it from data)."""
        self.catalogue = catalogue
        self.config = config or FeatureConfig()
        self.monotone = monotone
        self.features = self._plan()
        self._sources: pd.DataFrame | None = None

    def _plan(self) -> list[DerivedFeature]:
        cat, cfg = self.catalogue, self.config
        out = []
        for ind in cat.indicators:
            if ind.id in cfg.size_normalised:    # its level is the firm's size: another category's signal
                continue
            log = cfg.transforms and ind.transform == "log"
            out.append(DerivedFeature(f"log_{ind.id}" if log else ind.id, (ind.id,), "log" if log else "indicator",
                                      self._sign(ind.id, _MONOTONE[ind.direction]), ind.type == "categorical"))
        for r in cfg.ratios:
            if r.numerator in cat.by_id and r.denominator in cat.by_id:
                out.append(DerivedFeature(r.id, (r.numerator, r.denominator), "ratio", 0))
        if cfg.category_points:
            for c in cat.categories:
                if c.points > 0:  # a category without expert points has no sub-score
                    out.append(DerivedFeature(f"points_{c.id}", tuple(i.id for i in cat.indicators_in(c.id)),
                                              "category_points", self._sign(f"points_{c.id}", -1)))
        if cfg.missing_flags:
            for ind in cat.indicators:
                if ind.missing in (MissingMeaning.unknown, MissingMeaning.not_applicable):
                    out.append(DerivedFeature(f"missing_{ind.id}", (ind.id,), "missing_flag", 0))
        return out

    def _sign(self, key: str, declared: int) -> int:
        return declared if self.monotone is None else int(self.monotone.get(key, 0))

    @property
    def names(self) -> list[str]:
        return [f.id for f in self.features]

    @property
    def monotone_constraints(self) -> list[int]:
        return [f.monotone for f in self.features]

    @property
    def categorical_names(self) -> list[str]:
        return [f.id for f in self.features if f.categorical]

    def indicator_array(self, data: pd.DataFrame) -> np.ndarray:
        """Indicator columns as a float matrix (catalogue order; categorical levels as codes),
        missing-means-zero filled. Column-major, so that filling and reading a column is contiguous."""
        return self._indicators(data)[0]

    def _indicators(self, data) -> tuple[np.ndarray, np.ndarray]:
        """`indicator_array` and which values were missing as received (before any zero filling)."""
        plan = self._compiled()
        n = len(data)
        out = np.empty((n, len(plan.indicator_ids)), order="F")
        missing = np.empty((n, len(plan.indicator_ids)), bool, order="F")
        read_as_float, to_read = [], range(len(plan.indicator_ids))
        block = data.number_block(plan.numbers[0]) if isinstance(data, FirmColumns) else None
        if block is not None:                    # a request's numbers, converted in one call
            out[:, plan.numbers[1]] = block
            read_as_float, to_read = plan.numbers[1], plan.categorical
        for j in to_read:
            levels = plan.levels[j]
            s = column_array(data, plan.indicator_ids[j])
            if levels is not None:
                out[:, j] = level_codes(s, levels)
                missing[:, j] = missing_mask(s)
            elif s.dtype == np.float64:
                out[:, j] = s
                read_as_float.append(j)
            else:
                out[:, j] = pd.to_numeric(s, errors="coerce")
                missing[:, j] = missing_mask(s)
        if len(read_as_float):
            missing[:, read_as_float] = np.isnan(out[:, read_as_float])
        if len(plan.zero_filled):
            out[:, plan.zero_filled] = np.nan_to_num(out[:, plan.zero_filled], nan=0.0)
        return out, missing

    def indicator_values(self, data: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(self.indicator_array(data), index=data.index, columns=self.catalogue.indicator_ids)

    def transform(self, data: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(self.transform_array(data), index=data.index, columns=self.names)

    def transform_array(self, data: pd.DataFrame) -> np.ndarray:
        """The model matrix as floats, one column per derived feature."""
        return self.derive(data).matrix

    def derive(self, data: pd.DataFrame) -> "Derived":
        """Indicator values, expert points and the model matrix in one pass over the rows.

        Scoring needs all three (PD, expert scorecard, explanations); computing each once is what
        keeps batch scoring near the bare `predict` speed. Each kind of feature is one vectorised
        step over index arrays planned once (`_compiled`): a request's one firm costs a few numpy
        calls, not one per feature.
        """
        plan = self._compiled()
        values, missing = self._indicators(data)
        points = expert_points_table(self.catalogue).score(data, values)
        totals = self.catalogue.category_totals(points)
        out = np.empty((len(data), len(self.features)), order="F")
        out[:, plan.copied[0]] = values[:, plan.copied[1]]
        out[:, plan.logged[0]] = np.log1p(np.maximum(values[:, plan.logged[1]], 0))    # np.clip's wrapper costs more
        if len(plan.ratio_out):
            num, den = values[:, plan.ratio_num], values[:, plan.ratio_den]
            with np.errstate(divide="ignore", invalid="ignore"):
                out[:, plan.ratio_out] = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
        for k, category in plan.category_out:
            out[:, k] = totals[category]
        out[:, plan.flagged[0]] = missing[:, plan.flagged[1]]
        return Derived(values, points, out, missing, totals)

    def source_positions(self) -> tuple[np.ndarray, list[SourceGroup]]:
        """Where features come from: a features x indicators matrix of the one-source features (1 at
        their indicator) and the features of several indicators, one `SourceGroup` per kind."""
        plan = self._compiled()
        return plan.one_source, plan.several_sources

    def _compiled(self) -> "_FeaturePlan":
        """The features as index arrays per kind, built once per feature set (never pickled)."""
        return _feature_plan(self)

    def sources_matrix(self) -> pd.DataFrame:
        """Share of each feature's contribution that goes to each indicator (rows sum to 1).

        A ratio is shared equally by its two indicators; a category sub-score by its indicators in
        proportion to their expert points, their weight in the bank's own system.
        """
        if self._sources is None:
            col = {ind: j for j, ind in enumerate(self.catalogue.indicator_ids)}
            m = np.zeros((len(self.features), len(col)))
            for i, f in enumerate(self.features):
                weights = np.array([self.catalogue.by_id[s].points if f.kind == "category_points" else 1.0
                                    for s in f.sources])
                m[i, [col[s] for s in f.sources]] = weights / weights.sum()
            self._sources = pd.DataFrame(m, index=self.names, columns=self.catalogue.indicator_ids)
        return self._sources


_feature_plan = per_object(_FeaturePlan.of)
