"""Model features derived from the catalogue's indicators, each recording the indicators it comes from.

The record of sources is what lets explanations fold a derived feature's contribution back onto
catalogue indicators and categories; the monotone sign follows the catalogue's direction of risk.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.catalogue import Catalogue, Direction, MissingMeaning, expert_points

MONEY_UNIT = "CNY 10k"
_MONOTONE = {Direction.higher_worse: 1, Direction.higher_better: -1, Direction.non_monotone: 0}


@dataclass(frozen=True)
class DerivedFeature:
    id: str
    sources: tuple[str, ...]
    kind: str          # indicator | log | ratio | category_points | missing_flag
    monotone: int      # +1: PD rises with it, -1: PD falls, 0: unconstrained
    categorical: bool = False


@dataclass(frozen=True)
class Ratio:
    id: str
    numerator: str
    denominator: str
    zh: str = ""
    en: str = ""


@dataclass(frozen=True)
class FeatureConfig:
    missing_flags: bool = True
    money_logs: bool = True
    category_points: bool = True
    ratios: tuple[Ratio, ...] = field(default_factory=tuple)

    @classmethod
    def from_dict(cls, raw: dict | None) -> "FeatureConfig":
        raw = dict(raw or {})
        raw["ratios"] = tuple(Ratio(**r) for r in raw.get("ratios", []))
        return cls(**raw)


class FeatureSet:
    """The derived features for one catalogue; `transform` turns firm rows into a model matrix."""

    def __init__(self, catalogue: Catalogue, config: FeatureConfig | None = None):
        self.catalogue = catalogue
        self.config = config or FeatureConfig()
        self.features = self._plan()

    def _plan(self) -> list[DerivedFeature]:
        cat, cfg = self.catalogue, self.config
        out = []
        for ind in cat.indicators:
            log = cfg.money_logs and ind.unit.en == MONEY_UNIT
            out.append(DerivedFeature(f"log_{ind.id}" if log else ind.id, (ind.id,), "log" if log else "indicator",
                                      _MONOTONE[ind.direction], ind.type == "categorical"))
        for r in cfg.ratios:
            if r.numerator in cat.by_id and r.denominator in cat.by_id:
                out.append(DerivedFeature(r.id, (r.numerator, r.denominator), "ratio", 0))
        if cfg.category_points:
            for c in cat.categories:
                out.append(DerivedFeature(f"points_{c.id}", tuple(i.id for i in cat.indicators_in(c.id)),
                                          "category_points", -1))
        if cfg.missing_flags:
            for ind in cat.indicators:
                if ind.missing in (MissingMeaning.unknown, MissingMeaning.not_applicable):
                    out.append(DerivedFeature(f"missing_{ind.id}", (ind.id,), "missing_flag", 0))
        return out

    @property
    def names(self) -> list[str]:
        return [f.id for f in self.features]

    @property
    def monotone_constraints(self) -> list[int]:
        return [f.monotone for f in self.features]

    @property
    def categorical_names(self) -> list[str]:
        return [f.id for f in self.features if f.categorical]

    def indicator_values(self, data: pd.DataFrame) -> pd.DataFrame:
        """Indicator columns as numbers (categorical levels as codes), missing-means-zero filled."""
        cols = {}
        for ind in self.catalogue.indicators:
            s = data[ind.id]
            if ind.type == "categorical":
                codes = {str(v): i for i, v in enumerate(ind.level_values)}
                cols[ind.id] = s.map(lambda v: codes.get(str(v), np.nan) if pd.notna(v) else np.nan).astype(float)
            else:
                cols[ind.id] = pd.to_numeric(s, errors="coerce").astype(float)
            if ind.missing is MissingMeaning.zero:
                cols[ind.id] = cols[ind.id].fillna(0.0)
        return pd.DataFrame(cols, index=data.index)

    def transform(self, data: pd.DataFrame) -> pd.DataFrame:
        values = self.indicator_values(data)
        out = {}
        for f in self.features:
            if f.kind == "indicator":
                out[f.id] = values[f.sources[0]]
            elif f.kind == "log":
                out[f.id] = np.log1p(values[f.sources[0]].clip(lower=0))
            elif f.kind == "ratio":
                num, den = values[f.sources[0]], values[f.sources[1]]
                out[f.id] = (num / den.where(den > 0)).astype(float)
            elif f.kind == "category_points":
                out[f.id] = sum(expert_points(self.catalogue.by_id[s], data[s].to_numpy()) for s in f.sources)
            elif f.kind == "missing_flag":
                out[f.id] = data[f.sources[0]].isna().astype(float)
        return pd.DataFrame(out, index=data.index)

    def sources_matrix(self) -> pd.DataFrame:
        """Share of each feature's contribution that goes to each indicator (rows sum to 1).

        A ratio is shared equally by its two indicators; a category sub-score by its indicators in
        proportion to their expert points, their weight in the bank's own system.
        """
        m = pd.DataFrame(0.0, index=self.names, columns=self.catalogue.indicator_ids)
        for f in self.features:
            weights = np.array([self.catalogue.by_id[s].points if f.kind == "category_points" else 1.0
                                for s in f.sources])
            m.loc[f.id, list(f.sources)] = weights / weights.sum()
        return m
