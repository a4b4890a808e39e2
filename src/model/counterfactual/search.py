"""The counterfactual search: the fewest changes, then the cheapest, that reach a target under the model.

For each firm, every actionable indicator's candidate values (`candidates`: just past the model's
thresholds, in the feasible direction, within bounds and steps) are scored in one batch; a firm
reachable with one change stops there. Otherwise a beam of the most promising partial change sets
is extended one indicator at a time, up to `max_changes`. Each change set found is then made
cheaper (every changed indicator moved back as far as the target allows), and up to `k` with
different indicators are returned. Every PD reported is the model's own on the changed firm, so
re-scoring a counterfactual reaches its target by construction (tests re-score them anyway).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from innoscore.features.firm_columns import FirmColumns, column_array
from innoscore.model.counterfactual.candidates import (BAND, MAX_CHANGE, current_value, indicator_spaces,
                                                       lightgbm_thresholds, ratio_thresholds)
from innoscore.model.decision.decide import decision_arrays
from innoscore.model.decision.policy import Policy
from innoscore.model.estimators.expert_scorecard import category_points
from innoscore.model.explanation.reasons import format_value
from innoscore.model.scoring.interface import ScoringModel

STATUSES = ("found", "already_met", "not_found")   # what a Counterfactual's `status` can say


@dataclass(frozen=True)
class Target:
    """A grade at least as good as `grade` (PD at most its upper bound), or the decision `approve`."""

    grade: str | None = None
    decision: str | None = None

    def __post_init__(self):
        if (self.grade is None) == (self.decision is None):
            raise ValueError("a counterfactual target is either a grade or a decision")
        if self.decision not in (None, "approve"):
            raise ValueError(f"the decision target can only be 'approve', got '{self.decision}'")

    def to_dict(self) -> dict:
        return {"grade": self.grade} if self.grade else {"decision": self.decision}

    def text(self, model: ScoringModel, lang: str) -> str:
        if self.grade:
            return f"{self.grade}级或更好" if lang == "zh" else f"grade {self.grade} or better"
        return "获批" if lang == "zh" else "approval"


@dataclass
class Change:
    indicator: str
    from_: float
    to: float
    implied_by: str | None = None    # moved by a catalogue relation with this indicator, not by itself

    def to_dict(self) -> dict:
        return {"indicator": self.indicator, "from": self.from_, "to": self.to,
                **({"implied_by": self.implied_by} if self.implied_by else {})}


@dataclass
class Alternative:
    changes: list[Change]
    pd: float
    grade: str
    cost: float
    decision: str | None = None
    pd_drop: float = 0.0             # the firm's PD minus this one: the model's estimate, not a promise
    text_zh: str = ""
    text_en: str = ""

    @property
    def moved(self) -> list[Change]:
        """The changes a firm makes (not those a relation implies)."""
        return [c for c in self.changes if not c.implied_by]

    def to_dict(self) -> dict:
        return {"changes": [c.to_dict() for c in self.changes], "pd": self.pd, "pd_drop": self.pd_drop,
                "estimate": "model", "grade": self.grade, "cost": self.cost,
                **({"decision": self.decision} if self.decision else {}), "text_zh": self.text_zh,
                "text_en": self.text_en}


@dataclass
class Counterfactual:
    """What it would take for one firm: the target, where it stands, and the alternatives found."""

    firm_id: str
    target: Target
    pd: float
    grade: str
    status: str
    alternatives: list[Alternative] = field(default_factory=list)
    text_zh: str = ""
    text_en: str = ""

    def to_dict(self) -> dict:
        return {"firm_id": self.firm_id, "target": self.target.to_dict(), "pd": self.pd, "grade": self.grade,
                "status": self.status, "alternatives": [a.to_dict() for a in self.alternatives],
                "text_zh": self.text_zh, "text_en": self.text_en}


class CounterfactualSearch:
    """Counterfactuals for a ScoringModel (LightGBM or a scorecard).

    Parameters
    ----------
    model : ScoringModel
        The model (with its reference profile: candidate ranges and cost scales come from it).
    k : int
        Alternatives per firm, each changing a different set of indicators.
    max_changes : int
        The most indicators one alternative may change.
    beam_width : int
        Partial change sets kept per step of the search.
    max_candidates : int
        Values tried per indicator.
    policy : Policy or None
        Needed for the target decision "approve".
    band : (float, float)
        The training population's percentiles a moved value stays within.
    max_change : float
        How far a value may move, relative to max(|value|, the 10th-90th percentile spread), unless
        the catalogue's `action.max_change` says otherwise.
    """

    def __init__(self, model: ScoringModel, k: int = 3, max_changes: int = 3, beam_width: int = 6,
                 max_candidates: int = 8, policy: Policy | None = None, band: tuple[float, float] = BAND,
                 max_change: float = MAX_CHANGE):
        self.model, self.k, self.max_changes = model, k, max_changes
        self.beam_width, self.max_candidates, self.policy = beam_width, max_candidates, policy
        self.band, self.max_change = band, max_change
        est = model.estimator
        is_trees = hasattr(est, "booster_")
        thresholds = lightgbm_thresholds(est, model.catalogue) if is_trees else {}
        self.spaces_ = indicator_spaces(model.catalogue, model.peer_quantiles, thresholds, band, max_change)
        self.ratios_ = ratio_thresholds(est) if is_trees else []
        self.bound_ = {g.grade: g.pd_max for g in model.grade_scale.grades}
        cat = model.catalogue
        self.relations_ = list(cat.relations)
        self.defined_thresholds_ = {r.id: np.unique(np.concatenate(
            [thresholds.get(r.id, []), cat.by_id[r.id].bins.thresholds if cat.by_id[r.id].bins else []]))
            for r in self.relations_}

    # --- relations between indicators (the catalogue's `relations`) ------------------------------
    def _implied(self, base: dict, changes: dict[str, float]) -> dict[str, float]:
        """The values a change set moves through the catalogue's relations (id = numerator /
        denominator), on the grid a reason shows them with."""
        out = {}
        for r in self.relations_:
            if r.numerator in changes or r.denominator in changes:
                num = changes.get(r.numerator, base[r.numerator][0])
                den = changes.get(r.denominator, base[r.denominator][0])
                if den and den > 0 and not np.isnan(num):
                    step = self.model.catalogue.by_id[r.id].display_step
                    out[r.id] = float(np.round(num / den / step) * step)
        return out

    def _keeps_relations(self, ind: str, values: np.ndarray, base: dict, x0: dict) -> np.ndarray:
        """Which values of `ind` move every indicator it defines only as that one may move: in its
        feasible direction and within its reach (an indicator no firm may move cannot be moved this way)."""
        ok = np.ones(len(values), bool)
        for r in self.relations_:
            if ind not in (r.numerator, r.denominator):
                continue
            space, now = self.spaces_.get(r.id), base[r.id][0]
            num = values if ind == r.numerator else base[r.numerator][0]
            den = values if ind == r.denominator else base[r.denominator][0]
            with np.errstate(divide="ignore", invalid="ignore"):
                implied = np.asarray(num, dtype=float) / np.asarray(den, dtype=float)
            if space is None or np.isnan(now):
                ok &= False
                continue
            low, high = space.reach(float(now))
            direction = space.indicator.feasible_direction
            ok &= (implied >= low) & (implied <= high) & ~np.isnan(implied)
            if direction == "increase":
                ok &= implied > now
            elif direction == "decrease":
                ok &= implied < now
        return ok

    # --- evaluation ------------------------------------------------------------------------------
    def _rows(self, base: dict, sets: list[dict[str, float]]) -> FirmColumns:
        """The firm repeated once per change set, with the set's values (and what they imply) in place."""
        n = len(sets)
        cols = {name: np.repeat(values, n) for name, values in base.items()}
        for r, changes in enumerate(sets):
            for ind, value in {**changes, **self._implied(base, changes)}.items():
                cols[ind][r] = value
        return FirmColumns(cols)

    def _evaluate(self, rows: FirmColumns, target: Target) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """PD, reached (bool), badness (lower is closer to the target) and decisions of each row."""
        est = self.model.estimator
        derived = est.derive(rows)
        pd_values = est.predict_pd_derived(rows, derived)
        if target.grade:
            return pd_values, pd_values <= self.bound_[target.grade], pd_values, np.full(len(rows), None)
        points = category_points(rows, self.model.catalogue, derived)
        decided = decision_arrays(pd_values, points, rows, self.model.catalogue, self.policy,
                                  python_objects=True)      # each candidate's outcome is read one by one
        outcome = decided["decision"]
        reached = outcome == "approve"
        badness = -decided["decision_score"] + np.where(outcome == "decline", 100.0, 0.0)
        return pd_values, reached, badness, outcome

    # --- search ----------------------------------------------------------------------------------
    def explain(self, rows: pd.DataFrame, target: Target) -> list[Counterfactual]:
        """One Counterfactual per row of validated firm rows (a DataFrame)."""
        if target.grade is not None and target.grade not in self.bound_:
            raise ValueError(f"unknown target grade '{target.grade}'; the scale has {list(self.bound_)}")
        if target.decision and self.policy is None:
            raise ValueError("the target 'approve' needs a credit policy")
        rows = rows.reset_index(drop=True)
        id_col = self.model.catalogue.dataset.firm_id_column
        ids = rows[id_col].astype(str).to_numpy() if id_col in rows else (rows.index + 1).astype(str).to_numpy()
        return [self._one(rows.iloc[[i]], ids[i], target) for i in range(len(rows))]

    def _one(self, row: pd.DataFrame, firm_id: str, target: Target) -> Counterfactual:
        cat = self.model.catalogue
        base = {c: column_array(row, c).copy() for c in row.columns}
        for ind in cat.indicators:
            if ind.type != "categorical" and ind.id in base:
                base[ind.id] = base[ind.id].astype(float)
        p0, reached0, _, _ = self._evaluate(self._rows(base, [{}]), target)
        grade0 = str(self.model.grade(p0)[0])
        result = Counterfactual(firm_id, target, float(p0[0]), grade0, "already_met")
        if reached0[0]:
            return self._describe(result)
        x0 = {ind.id: current_value(ind, base[ind.id][0]) for ind in cat.indicators if ind.id in self.spaces_}
        singles = self._single_changes(x0, base)
        if not singles:
            result.status = "not_found"
            return self._describe(result)
        found: list[dict] = []                  # change sets that reach the target
        beam: list[dict] = [{}]
        for _ in range(self.max_changes):
            sets = [{**s, ind: v} for s in beam for ind, v in singles if ind not in s]
            sets = list({tuple(sorted(s.items())): s for s in sets}.values())
            if not sets:
                break
            _, reached, badness, _ = self._evaluate(self._rows(base, sets), target)
            found.extend(sets[i] for i in np.flatnonzero(reached))
            if len({frozenset(s) for s in found}) >= self.k:
                break
            open_ = [i for i in np.argsort(badness, kind="stable") if not reached[i]]
            beam = self._diverse([sets[i] for i in open_], self.beam_width)
        if not found:
            result.status = "not_found"
            return self._describe(result)
        result.status = "found"
        result.alternatives = self._cheapest(base, x0, found, target)
        return self._describe(result)

    def _single_changes(self, x0: dict[str, float | None], base: dict) -> list[tuple[str, float]]:
        extra: dict[str, list[float]] = {}
        ratios = self.ratios_ + [(r.numerator, r.denominator, self.defined_thresholds_[r.id]) for r in self.relations_]
        for num, den, t in ratios:                # a ratio's thresholds as values of its two indicators
            n0, d0 = current_value(self.model.catalogue.by_id[num], base[num][0]), \
                current_value(self.model.catalogue.by_id[den], base[den][0])
            if num in self.spaces_ and n0 is not None and d0 is not None and d0 > 0:
                extra.setdefault(num, []).extend(t * d0)
            if den in self.spaces_ and n0 is not None and d0 is not None:
                extra.setdefault(den, []).extend(n0 / t[t > 0])
        defined = {r.id for r in self.relations_}
        out = []
        for ind, space in self.spaces_.items():
            if x0.get(ind) is None or ind in defined:     # a defined indicator moves with what defines it
                continue
            values = space.candidates(x0[ind], np.asarray(extra.get(ind, []), dtype=float), self.max_candidates)
            values = values[self._keeps_relations(ind, values, base, x0)]
            out.extend((ind, float(v)) for v in values)
        return out

    @staticmethod
    def _diverse(sets: list[dict], width: int) -> list[dict]:
        """The best `width` sets, at most two per indicator set, so the beam does not fill with one idea."""
        seen: dict[frozenset, int] = {}
        out = []
        for s in sets:
            key = frozenset(s)
            if seen.get(key, 0) < 2:
                seen[key] = seen.get(key, 0) + 1
                out.append(s)
            if len(out) >= width:
                break
        return out

    def _cheapest(self, base: dict, x0: dict, found: list[dict], target: Target) -> list[Alternative]:
        """For each distinct indicator set (fewest changes first): each change moved back to the
        cheapest candidate that still reaches the target, one indicator at a time."""
        by_set: dict[frozenset, dict] = {}
        for changes in sorted(found, key=lambda f: (len(f), self._cost(x0, f))):
            by_set.setdefault(frozenset(changes), changes)
        alternatives = []
        for changes in list(by_set.values())[: self.k]:
            changes = dict(changes)
            for ind in sorted(changes, key=lambda i: -self.spaces_[i].cost(x0[i], changes[i])):
                space = self.spaces_[ind]
                options = space.candidates(x0[ind], None, 4 * self.max_candidates)
                options = np.append(options[self._keeps_relations(ind, options, base, x0)], changes[ind])
                options = options[np.argsort(space.cost(x0[ind], options), kind="stable")]
                sets = [{**changes, ind: float(v)} for v in options]
                _, reached, _, _ = self._evaluate(self._rows(base, sets), target)
                changes = sets[int(np.argmax(reached))]       # the cheapest that still reaches it
            p, reached, _, outcome = self._evaluate(self._rows(base, [changes]), target)
            if not reached[0]:
                continue
            implied = self._implied(base, changes)
            by = {r.id: (r.numerator if r.numerator in changes else r.denominator) for r in self.relations_}
            alternatives.append(Alternative(
                [Change(i, x0[i], v) for i, v in changes.items()]
                + [Change(i, float(base[i][0]), v, by[i]) for i, v in implied.items()],
                float(p[0]), str(self.model.grade(p)[0]), float(self._cost(x0, changes)), outcome[0]))
        return sorted(alternatives, key=lambda a: (len(a.moved), a.cost))

    def _cost(self, x0: dict, changes: dict) -> float:
        return float(sum(self.spaces_[i].cost(x0[i], v) for i, v in changes.items()))

    # --- words -----------------------------------------------------------------------------------
    def _describe(self, cf: Counterfactual) -> Counterfactual:
        cat, target = self.model.catalogue, cf.target
        goal_zh, goal_en = target.text(self.model, "zh"), target.text(self.model, "en")
        for alt in cf.alternatives:
            alt.pd_drop = cf.pd - alt.pd
            zh, en = [], []
            for c in alt.changes:
                if c.implied_by:
                    continue
                ind = cat.by_id[c.indicator]
                up = c.to > c.from_
                follows = [(cat.by_id[d.indicator], d) for d in alt.changes if d.implied_by == c.indicator]
                zh.append(f"{ind.name_zh}从{format_value(ind, c.from_, 'zh')}{'提高' if up else '降低'}到"
                          f"{format_value(ind, c.to, 'zh')}" + "".join(
                              f"（{i.name_zh}随之从{format_value(i, d.from_, 'zh')}变为{format_value(i, d.to, 'zh')}）"
                              for i, d in follows))
                en.append(f"{'raise' if up else 'lower'} {ind.name_en} from {format_value(ind, c.from_, 'en')} "
                          f"to {format_value(ind, c.to, 'en')}" + "".join(
                              f" ({i.name_en} {format_value(i, d.from_, 'en')} -> {format_value(i, d.to, 'en')})"
                              for i, d in follows))
            drop = 100 * alt.pd_drop
            alt.text_zh = (f"若{'，'.join(zh)}，模型估计违约概率将从{cf.pd:.2%}降至{alt.pd:.2%}（下降{drop:.2f}个百分点，"
                           f"{alt.grade}级），达到{goal_zh}。")
            sentence = "; ".join(en)
            alt.text_en = (f"{sentence[:1].upper()}{sentence[1:]}: the model estimates the PD falls from {cf.pd:.2%} "
                           f"to {alt.pd:.2%} ({drop:.2f} points lower, grade {alt.grade}), reaching {goal_en}.")
        if cf.status == "already_met":
            cf.text_zh, cf.text_en = f"已达到{goal_zh}，无需改变。", f"Already at {goal_en}: nothing needs to change."
        elif cf.status == "not_found":
            cf.text_zh = f"在可行范围内改变至多{self.max_changes}项可调指标均无法达到{goal_zh}。"
            cf.text_en = (f"No feasible change of up to {self.max_changes} actionable indicators reaches {goal_en}.")
        else:
            cf.text_zh, cf.text_en = cf.alternatives[0].text_zh, cf.alternatives[0].text_en
        return cf
