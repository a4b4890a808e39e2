"""One monitoring run: the scored population against the reference profile, and (with outcomes)
the backtest, each figure with its traffic light; the worst light sets the exit code.

Sources are streamed: a data file is scored chunk by chunk (`observed_data`), an inference log is
read chunk by chunk (`observed_log`); only bin counts are kept, plus, when outcomes are given, each
firm's latest PD and grade to test against its outcome.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from innoscore.features.derive import FeatureSet
from innoscore.model.evaluation.metrics import psi_from_shares
from innoscore.model.monitoring.backtest import (calibration_intercept_slope, discrimination, grade_backtest,
                                                 hosmer_lemeshow)
from innoscore.model.monitoring.config import LIGHT_ORDER, MonitoringConfig, worst
from innoscore.model.monitoring.log import read_log
from innoscore.model.monitoring.population import PopulationCounts
from innoscore.model.scoring.batch import iter_chunks, score_chunk
from innoscore.model.scoring.interface import ScoringModel


class MonitoringInputError(ValueError):
    """The data, log or outcomes cannot be monitored (missing, unreadable, without the columns needed)."""


@dataclass
class Observed:
    """One chunk of scored firms: their rows (indicators as given) and what the model said."""

    rows: pd.DataFrame
    pd: np.ndarray
    grades: np.ndarray
    categories: dict[str, np.ndarray]
    versions: pd.Series | None = None


def _categories(frame: pd.DataFrame, category_ids: list[str]) -> dict[str, np.ndarray]:
    return {c: frame[f"expert_{c}"].to_numpy(dtype=float) for c in category_ids if f"expert_{c}" in frame}


def observed_data(path: Path, model: ScoringModel, chunk_rows: int = 100_000, rejected: list | None = None
                  ) -> Iterator[Observed]:
    """A data file scored chunk by chunk (rows failing validation are counted in `rejected`)."""
    for chunk in iter_chunks(Path(path), chunk_rows, id_column=model.catalogue.dataset.firm_id_column):
        seen: list = []
        _, bad = score_chunk(chunk, model, observe=lambda rows, scored: seen.append((rows, scored)))
        if rejected is not None:
            rejected.append(len(bad))
        for rows, scored in seen:
            yield Observed(rows, scored["pd"].to_numpy(dtype=float), scored["grade"].to_numpy(),
                           _categories(scored, model.catalogue.category_ids))


def observed_log(directory: Path, model: ScoringModel, chunk_rows: int = 200_000) -> Iterator[Observed]:
    """The inference log chunk by chunk: PD and grade as served, indicators as received."""
    try:
        for frame in read_log(directory, chunk_rows):
            yield Observed(frame, frame["pd"].to_numpy(dtype=float), frame["grade"].to_numpy(),
                           _categories(frame, model.catalogue.category_ids), frame.get("model_version"))
    except FileNotFoundError as exc:
        raise MonitoringInputError(str(exc)) from None
    except (OSError, ValueError) as exc:
        raise MonitoringInputError(f"cannot read the inference log {directory}: {str(exc)[:200]}") from None


@dataclass
class MonitoringResult:
    """Every figure of one run, with lights; `to_dict()` is the JSON the report shows."""

    model: dict
    n_firms: int
    stability: pd.DataFrame             # one row per score / indicator / category / grade mix
    grade_mix: pd.DataFrame             # grade, reference share, share now
    bins: dict                          # item -> {"reference": [...], "now": [...]} (last bin: missing)
    mean_pd: dict = field(default_factory=dict)     # {"reference": ..., "now": ...}
    versions: dict = field(default_factory=dict)
    rejected: int = 0
    backtest: pd.DataFrame | None = None
    calibration: dict | None = None
    discrimination: dict | None = None
    hosmer_lemeshow: dict | None = None
    n_outcomes: int = 0

    @property
    def lights(self) -> dict[str, str]:
        """The worst light of each section."""
        out = {"score": worst(self.stability.loc[self.stability["kind"] == "score", "light"]),
               "indicators": worst(self.stability.loc[self.stability["kind"] == "indicator", "light"]),
               "categories": worst(self.stability.loc[self.stability["kind"] == "category", "light"]),
               "grade_mix": worst(self.stability.loc[self.stability["kind"] == "grade_mix", "light"])}
        if self.backtest is not None:
            out["backtest"] = worst(self.backtest["light"])
            out["calibration"] = self.calibration["light"]
            out["discrimination"] = self.discrimination["light"]
            out["hosmer_lemeshow"] = self.hosmer_lemeshow["light"]
        return out

    @property
    def light(self) -> str:
        return worst(self.lights.values())

    def alerts(self) -> pd.DataFrame:
        """The amber and red items, worst first: what the report names."""
        rows = self.stability[self.stability["light"].isin(["amber", "red"])].copy()
        rows["rank"] = rows["light"].map(LIGHT_ORDER)
        return rows.sort_values(["rank", "psi"], ascending=False).drop(columns="rank")

    def exit_code(self, fail_on: str = "red") -> int:
        return int(LIGHT_ORDER[self.light] >= LIGHT_ORDER[fail_on])

    def to_dict(self) -> dict:
        def records(frame):
            return None if frame is None else _plain(frame.to_dict(orient="records"))

        return _plain({"model": self.model, "n_firms": self.n_firms, "rejected": self.rejected,
                       "versions": self.versions, "light": self.light, "lights": self.lights,
                       "alerts": records(self.alerts()), "stability": records(self.stability),
                       "grade_mix": records(self.grade_mix), "mean_pd": self.mean_pd, "bins": self.bins,
                       "n_outcomes": self.n_outcomes,
                       "backtest": records(self.backtest), "calibration": self.calibration,
                       "discrimination": self.discrimination, "hosmer_lemeshow": self.hosmer_lemeshow})


def _plain(value):
    """JSON-ready: numpy scalars and arrays as Python numbers and lists, NaN as None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else float(value)
    return value


def _outcome_map(outcomes: pd.DataFrame | None, id_col: str, target: str) -> pd.Series | None:
    if outcomes is None:
        return None
    for col in (id_col, target):
        if col not in outcomes:
            raise MonitoringInputError(f"the outcomes have no column '{col}' (need the firm id and the outcome)")
    y = pd.to_numeric(outcomes[target], errors="coerce")
    bad = outcomes.loc[~y.isin([0, 1]) & outcomes[target].notna(), id_col]
    if len(bad):
        raise MonitoringInputError(f"outcome '{target}' must be 0 or 1; firm {bad.iloc[0]!s} has "
                                   f"'{outcomes.loc[bad.index[0], target]!s}'")
    return pd.Series(y.to_numpy(), index=outcomes[id_col].astype(str)).dropna().groupby(level=0).last()


def monitor(observed: Iterable[Observed], model: ScoringModel, config: MonitoringConfig | None = None,
            outcomes: pd.DataFrame | None = None, model_info: dict | None = None) -> MonitoringResult:
    """Stability against the reference profile; with outcomes (a frame of firm id and outcome, or the
    outcome column in the scored rows) the backtest of each firm's latest PD."""
    config = config or MonitoringConfig.load()
    if model.reference is None:
        raise MonitoringInputError(f"the {model.kind} model was stored without a reference profile; retrain it")
    cat = model.catalogue
    id_col, target = cat.dataset.firm_id_column, cat.dataset.target_column
    features = FeatureSet(cat)
    counts = PopulationCounts(model.reference, cat.indicator_ids)
    known = _outcome_map(outcomes, id_col, target)
    tested: list[pd.DataFrame] = []
    versions: dict[str, int] = {}
    for chunk in observed:
        counts.add(features.indicator_array(chunk.rows), chunk.pd, chunk.grades, chunk.categories)
        if chunk.versions is not None:
            for v, k in chunk.versions.astype(str).value_counts().items():
                versions[v] = versions.get(v, 0) + int(k)
        ids = chunk.rows[id_col].astype(str).to_numpy() if id_col in chunk.rows else None
        y = None
        if known is not None and ids is not None:
            y = known.reindex(ids).to_numpy()
        elif target and target in chunk.rows:
            y = pd.to_numeric(chunk.rows[target], errors="coerce").to_numpy(dtype=float)
        if y is not None:
            keep = ~np.isnan(y)
            tested.append(pd.DataFrame({"id": ids[keep] if ids is not None else np.arange(keep.sum()),
                                        "pd": chunk.pd[keep], "grade": chunk.grades[keep], "y": y[keep]}))
    if counts.n == 0:
        raise MonitoringInputError("no scored firms to monitor / 没有可监测的企业")
    result = _stability(counts, model, config)
    result.model, result.versions = dict(model_info or {"kind": model.kind}), versions
    if tested:
        _backtest(result, pd.concat(tested, ignore_index=True), model, config, keyed=known is not None)
    elif known is not None:
        raise MonitoringInputError(f"none of the {len(known):,} firms in the outcomes was scored here "
                                   f"(matched on '{id_col}')")
    return result


def _stability(counts: PopulationCounts, model: ScoringModel, config: MonitoringConfig) -> MonitoringResult:
    ref = model.reference
    judged = counts.n >= config.min_firms
    rows, bins = [], {}

    def add(kind: str, name: str, ref_shares: np.ndarray, now_counts: np.ndarray, missing: bool = False) -> None:
        now = counts.shares(now_counts)
        psi = psi_from_shares(ref_shares, now)
        row = {"kind": kind, "item": name, "psi": psi, "light": config.stability.light_above(psi) if judged else "grey"}
        if missing:
            shift = float(now[-1] - ref_shares[-1])
            missing_light = config.missing_shift.light_above(abs(shift)) if judged else "grey"
            row.update(missing_reference=float(ref_shares[-1]), missing_now=float(now[-1]), missing_shift=shift,
                       missing_light=missing_light, light=worst([row["light"], missing_light]))
        rows.append(row)
        bins[name] = {"reference": ref_shares, "now": now}

    add("score", "pd", ref.pd_shares, counts.pd_counts)
    for ind in model.catalogue.indicator_ids:
        add("indicator", ind, ref.indicator_shares[ind], counts.indicator_counts[ind], missing=True)
    for c, shares in ref.category_shares.items():
        if c in counts.category_counts:
            add("category", c, shares, counts.category_counts[c])
    labels = model.grade_scale.labels
    ref_mix = np.array([ref.grade_shares.get(g, 0.0) for g in labels])
    now_counts = np.array([counts.grade_counts.get(g, 0) for g in labels], dtype=float)
    psi = psi_from_shares(ref_mix, now_counts / max(counts.n, 1))
    rows.append({"kind": "grade_mix", "item": "grade", "psi": psi,
                 "light": config.stability.light_above(psi) if judged else "grey"})
    grade_mix = pd.DataFrame({"grade": labels, "reference_share": ref_mix, "share_now": now_counts / max(counts.n, 1),
                              "n_now": now_counts.astype(int)})
    stability = pd.DataFrame(rows)
    for col in ("missing_reference", "missing_now", "missing_shift", "missing_light"):
        if col not in stability:
            stability[col] = np.nan
    return MonitoringResult(model={}, n_firms=counts.n, stability=stability, grade_mix=grade_mix,
                            bins={k: {s: list(map(float, v)) for s, v in b.items()} for k, b in bins.items()},
                            mean_pd={"reference": ref.mean_pd, "now": counts.pd_sum / counts.n})


def _backtest(result: MonitoringResult, tested: pd.DataFrame, model: ScoringModel, config: MonitoringConfig,
              keyed: bool) -> None:
    """Each firm's latest scoring against its outcome (firms scored more than once count once)."""
    if keyed:
        tested = tested.drop_duplicates("id", keep="last")
    y, p = tested["y"].to_numpy().astype(int), tested["pd"].to_numpy(dtype=float)
    result.n_outcomes = len(tested)
    result.backtest = grade_backtest(y, p, tested["grade"].to_numpy(), model.grade_scale.labels, config)
    enough = y.sum() >= config.min_defaults and y.sum() < len(y)
    if enough:
        intercept, slope = calibration_intercept_slope(y, p)
        stat, df, p_hl = hosmer_lemeshow(y, p)
        slope_light = config.calibration_slope.light_above(abs(slope - 1))
        hl_light = config.hosmer_lemeshow.light_below(p_hl)
    else:
        intercept = slope = stat = p_hl = float("nan")
        df, slope_light, hl_light = 0, "grey", "grey"
    result.calibration = {"intercept": intercept, "slope": slope, "light": slope_light,
                          "mean_pd": float(p.mean()), "default_rate": float(y.mean())}
    result.hosmer_lemeshow = {"statistic": stat, "df": df, "p_value": p_hl, "light": hl_light}
    # The AUC to hold against: out of sample at training (the test window, or out of fold under cv);
    # the validation window's is in-sample after a small-sample refit (0.987 against a test 0.967).
    reference = model.reference.metrics
    expected = (reference.get("test") or {}).get("auc") or (reference.get("valid") or {}).get("auc")
    result.discrimination = discrimination(y, p, expected, config)
