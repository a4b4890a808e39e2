"""One decision function on the scored-firm record: approve / refer / decline, a limit and reasons.

1. Knock-outs: any rule of the policy that holds declines the firm and is named. Every rule applies:
   input without a rule's column is refused (`PolicyInputError`), and a firm whose value is missing
   (where the catalogue does not say missing means zero) is referred, the unchecked rule named.
2. The decision score (0-100, higher safer) blends the model's score (a points-to-double-the-odds
   scale of its PD) with the expert evaluation's category scores, by the policy's weights; a PD above
   `pd_decline_above` declines whatever the score.
3. Bands on the score: approve, refer to the credit committee, decline.
4. The limit (approve and refer): the smallest of the requested amount, the guarantee type's cap, a
   multiple of revenue, and the amount whose expected loss PD x LGD x EAD fits the budget.
5. The price (approve and refer, `decision.pricing`): the lowest rate the loan must earn; above the
   policy's rate cap an approval becomes a referral, the reason named.
Vectorised over firms (benchmarks/decision.py measures what it adds to batch scoring).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from innoscore.features.catalogue import Catalogue, MissingMeaning
from innoscore.model.arrays import coded_labels, masked_lists
from innoscore.speed import per_object, request_sized
from innoscore.model.decision.policy import Policy
from innoscore.model.decision.pricing import PRICE_FIELDS, price

OUTCOMES = {"approve": ("批准", "approve"), "refer": ("提交授信评审会", "refer to the credit committee"),
            "decline": ("拒绝", "decline")}


LIMIT_BASES = ("requested", "guarantee_cap", "revenue", "expected_loss_budget")   # the bounds, in `decide`'s order


@dataclass(frozen=True)
class DecisionTables:
    """A policy's fixed parts, built once per policy (`decision_tables`): the reason of each decision
    mask, the levels of each coded column (`model.arrays.coded_labels` turns codes into labels), and
    each guarantee type's position, LGD and cap."""
    reasons_en: tuple[str, ...]
    reasons_zh: tuple[str, ...]
    levels: dict[str, tuple[str, ...]]
    guarantee_position: dict[str, int]
    lgd: np.ndarray
    cap: np.ndarray


@per_object
def decision_tables(policy: Policy) -> DecisionTables:
    """The policy's `DecisionTables`, built once per policy object."""
    bands, pd_cap = policy.bands, 100 * policy.pd_decline_above
    reasons_en = (*(k.en for k in policy.knock_outs),
                  *(f"{k.en}: not checked, {k.column} missing" for k in policy.knock_outs),
                  f"model PD above {pd_cap:g}%",
                  f"decision score below the refer band ({bands.refer_min:g})",
                  f"decision score below the approve band ({bands.approve_min:g})",
                  f"rate floor above the rate cap ({100 * (policy.pricing.rate_cap or 1):g}%)")
    reasons_zh = (*(k.zh for k in policy.knock_outs),
                  *(f"{k.zh}：{k.column}缺失，无法核查" for k in policy.knock_outs),
                  f"模型违约概率高于{pd_cap:g}%",
                  f"决策得分低于提交评审线（{bands.refer_min:g}）", f"决策得分低于批准线（{bands.approve_min:g}）",
                  f"最低定价高于利率上限（{100 * (policy.pricing.rate_cap or 1):g}%）")
    levels = {"decision": tuple(OUTCOMES), "decision_zh": tuple(z for z, _ in OUTCOMES.values()),
              "decision_en": tuple(e for _, e in OUTCOMES.values()), "limit_basis": ("", *LIMIT_BASES),
              "guarantee": tuple(policy.limits.guarantees), "policy_version": (policy.version,),
              "policy_hash": (policy.fingerprint,)}
    terms = policy.limits.guarantees
    return DecisionTables(reasons_en, reasons_zh, levels, {kind: k for k, kind in enumerate(terms)},
                          np.array([t.lgd for t in terms.values()]), np.array([t.cap for t in terms.values()]))


def decision_fields() -> list[tuple[str, pa.DataType]]:
    """The decision's columns in the scored-firm record (innoscore.model.scoring.record)."""
    return [("decision", pa.string()), ("decision_zh", pa.string()), ("decision_en", pa.string()),
            ("decision_score", pa.float64()), ("model_score", pa.float64()), ("limit", pa.float64()),
            ("limit_basis", pa.string()), ("guarantee", pa.string()), ("expected_loss", pa.float64()),
            ("decision_reasons", pa.list_(pa.string())), ("decision_reasons_zh", pa.list_(pa.string())),
            ("policy_version", pa.string()), ("policy_hash", pa.string()),
            *((name, pa.bool_() if name == "inclusive" else pa.float64()) for name in PRICE_FIELDS)]


def model_score(pd_values: np.ndarray, policy: Policy) -> np.ndarray:
    """50 + pdo * log2(odds / base_odds) of the PD, clipped to 0-100 (higher is safer)."""
    p = np.minimum(np.maximum(np.asarray(pd_values, dtype=float), 1e-9), 1 - 1e-9)    # np.clip's wrapper costs more
    b = policy.blend
    return np.minimum(np.maximum(50 + b.pdo * np.log2((1 - p) / p / b.base_odds), 0), 100)


def decision_score(pd_values: np.ndarray, category_points, catalogue: Catalogue,
                   policy: Policy) -> tuple[np.ndarray, np.ndarray]:
    """The blended decision score and the model's own score; `category_points`: one column per category
    (a frame, or a dict of arrays as `Scores.expert_points`)."""
    m = model_score(pd_values, policy)
    score = policy.blend.model_weight * m
    for category, weight in policy.blend.category_weight.items():
        max_points = catalogue.category_by_id[category].points
        if max_points:
            score = score + weight * 100 * (np.asarray(category_points[category], dtype=float) / max_points)
    return score, m


def _numbers(rows, name: str | None) -> np.ndarray:
    """A column read as numbers (NaN where absent or unreadable)."""
    if not name or name not in rows:
        return np.full(len(rows), np.nan)
    column = rows[name]
    if isinstance(column, np.ndarray) and column.dtype == np.float64:
        return column                   # a request's column, already numbers (no dtype inspection per rule)
    if not pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
        column = pd.to_numeric(column, errors="coerce")
    return column if isinstance(column, np.ndarray) else column.to_numpy(dtype=float, na_value=np.nan)


def _level_codes(rows, name: str | None, position: dict[str, int], default: str) -> np.ndarray:
    """Each row's level (`position`: level -> code) of its value in column `name`; the default's code
    where absent or unknown."""
    fallback = position[default]
    if not name or name not in rows:
        return np.full(len(rows), fallback)
    if request_sized(len(rows)):           # a dictionary lookup
        return np.array([position.get(v, fallback) if isinstance(v, str) else fallback for v in rows[name]], dtype=int)
    values = pc.cast(pa.array(rows[name], from_pandas=True), pa.string())    # text in Arrow: no Python objects
    codes = pc.index_in(values, value_set=pa.array(list(position), pa.string()))
    return pc.fill_null(codes, fallback).to_numpy(zero_copy_only=False)


def knock_out_values(rows, policy: Policy, catalogue: Catalogue) -> list[np.ndarray]:
    """Each knock-out rule's column as numbers, missing-means-zero indicators filled with 0 (NaN stays
    where the value is unknown); `PolicyInputError` naming the rule if its column is absent."""
    policy.require_columns(rows)
    values = []
    for rule in policy.knock_outs:
        column = _numbers(rows, rule.column)
        ind = catalogue.by_id.get(rule.column)
        if ind is not None and ind.missing is MissingMeaning.zero:
            column = np.where(np.isnan(column), 0.0, column)
        values.append(column)
    return values


def hard_declines(pd_values: np.ndarray, rows, policy: Policy, catalogue: Catalogue
                  ) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Which firms each knock-out rule declines, which it could not check (value missing: referred,
    never approved), and which the PD ceiling declines, whatever the score."""
    values = knock_out_values(rows, policy, catalogue)
    unknown = [np.isnan(v) for v in values]
    knocked = [k.holds(v) & ~u for k, v, u in zip(policy.knock_outs, values, unknown)]   # NaN != x holds
    return knocked, unknown, np.asarray(pd_values, dtype=float) > policy.pd_decline_above


def decide(pd_values: np.ndarray, category_points, rows: pd.DataFrame, catalogue: Catalogue,
           policy: Policy) -> pd.DataFrame:
    """The decision columns (`decision_fields`) for each firm, row for row with `rows`, as a frame."""
    return pd.DataFrame(decision_arrays(pd_values, category_points, rows, catalogue, policy), index=rows.index)


def decision_arrays(pd_values: np.ndarray, category_points, rows, catalogue: Catalogue,
                    policy: Policy, python_objects: bool = False) -> dict[str, np.ndarray]:
    """The decision fields, an array each, for the firms of `rows` (a DataFrame or
    `features.firm_columns.FirmColumns`), row for row: what the scored-firm record adds (labels and
    reasons as `model.arrays` makes them, `python_objects` for a reader of single values)."""
    n = len(rows)
    pd_values = np.asarray(pd_values, dtype=float)
    score, m_score = decision_score(pd_values, category_points, catalogue, policy)
    knocked, unchecked, pd_ceiling = hard_declines(pd_values, rows, policy, catalogue)
    k = len(knocked)
    masks = np.zeros((n, 2 * k + 4), dtype=bool)      # one column per reason, as `DecisionTables.reasons_en`
    for j, (rule, open_) in enumerate(zip(knocked, unchecked)):
        masks[:, j], masks[:, k + j] = rule, open_
    any_knock = masks[:, :k].any(axis=1)
    bands = policy.bands
    below_approve, below_refer = score < bands.approve_min, score < bands.refer_min
    decline = any_knock | pd_ceiling | below_refer
    masks[:, k:2 * k] &= ~decline[:, None]
    refer = ~decline & (below_approve | masks[:, k:2 * k].any(axis=1))
    masks[:, 2 * k], masks[:, 2 * k + 1] = pd_ceiling, below_refer & ~any_knock & ~pd_ceiling
    masks[:, 2 * k + 2] = ~decline & below_approve
    code = np.where(decline, 2, np.where(refer, 1, 0))           # positions in OUTCOMES

    lim, tables = policy.limits, decision_tables(policy)
    g = _level_codes(rows, lim.guarantee_column, tables.guarantee_position, lim.default_guarantee)
    lgd = tables.lgd[g]
    bounds = np.empty((n, len(LIMIT_BASES)))          # LIMIT_BASES, in order; NaN: no such bound
    bounds[:, 0] = _numbers(rows, lim.requested_column)
    bounds[:, 1] = tables.cap[g]
    bounds[:, 2] = (_numbers(rows, lim.revenue_multiple.column) * lim.revenue_multiple.multiple
                    if lim.revenue_multiple else np.nan)
    bounds[:, 3] = lim.expected_loss_budget / np.maximum(pd_values * lgd, 1e-12)
    bounds[np.isnan(bounds)] = np.inf
    limit = np.floor(bounds.min(axis=1) * 10) / 10                  # CNY 10k, down to 1,000 CNY
    limit = np.where(decline, 0.0, np.maximum(limit, 0.0))
    basis_code = np.where(decline, 0, bounds.argmin(axis=1) + 1)
    prices = price(pd_values, lgd, limit, rows, policy.pricing, _numbers)     # what the loan must earn
    for name, values in prices.items():
        prices[name] = np.where(decline, False if name == "inclusive" else np.nan, values)
    if policy.pricing.rate_cap is not None:                   # a price above the cap: the committee's call
        masks[:, 2 * k + 3] = over = ~decline & (prices["rate_floor"] > policy.pricing.rate_cap)
        code = np.where(over & (code == 0), 1, code)
    constant = np.zeros(n, dtype=int)
    reasons_en, reasons_zh = masked_lists(masks, tables.reasons_en, tables.reasons_zh, python_objects=python_objects)

    def categorical(name, codes):
        return coded_labels(codes, tables.levels[name], python_objects)

    return {
        "decision": categorical("decision", code), "decision_zh": categorical("decision_zh", code),
        "decision_en": categorical("decision_en", code),
        "decision_score": score, "model_score": m_score, "limit": limit,
        "limit_basis": categorical("limit_basis", basis_code),
        "guarantee": categorical("guarantee", g), "expected_loss": pd_values * lgd * limit,
        "decision_reasons": reasons_en, "decision_reasons_zh": reasons_zh,
        "policy_version": categorical("policy_version", constant),
        "policy_hash": categorical("policy_hash", constant), **prices}
