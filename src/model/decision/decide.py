"""One decision function on the scored-firm record: approve / refer / decline, a limit and reasons.

1. Knock-outs: any rule of the policy that holds declines the firm and is named.
2. The decision score (0-100, higher safer) blends the model's score (a points-to-double-the-odds
   scale of its PD) with the expert evaluation's category scores, by the policy's weights; a PD above
   `pd_decline_above` declines whatever the score.
3. Bands on the score: approve, refer to the credit committee, decline.
4. The limit (approve and refer): the smallest of the requested amount, the guarantee type's cap, a
   multiple of revenue, and the amount whose expected loss PD x LGD x EAD fits the budget.
Vectorised over firms (benchmarks/decision.py measures what it adds to batch scoring).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from innoscore.features.catalogue import Catalogue
from innoscore.model.columns import masked_lists
from innoscore.model.decision.policy import Policy

OUTCOMES = {"approve": ("批准", "approve"), "refer": ("提交授信评审会", "refer to the credit committee"),
            "decline": ("拒绝", "decline")}
_OPS = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal, "==": np.equal,
        "!=": np.not_equal}


def decision_fields() -> list[tuple[str, pa.DataType]]:
    """The decision's columns in the scored-firm record (innoscore.model.scoring.record)."""
    return [("decision", pa.string()), ("decision_zh", pa.string()), ("decision_en", pa.string()),
            ("decision_score", pa.float64()), ("model_score", pa.float64()), ("limit", pa.float64()),
            ("limit_basis", pa.string()), ("guarantee", pa.string()), ("expected_loss", pa.float64()),
            ("decision_reasons", pa.list_(pa.string())), ("decision_reasons_zh", pa.list_(pa.string())),
            ("policy_version", pa.string()), ("policy_hash", pa.string())]


def model_score(pd_values: np.ndarray, policy: Policy) -> np.ndarray:
    """50 + pdo * log2(odds / base_odds) of the PD, clipped to 0-100 (higher is safer)."""
    p = np.clip(np.asarray(pd_values, dtype=float), 1e-9, 1 - 1e-9)
    b = policy.blend
    return np.clip(50 + b.pdo * np.log2((1 - p) / p / b.base_odds), 0, 100)


def decision_score(pd_values: np.ndarray, category_points: pd.DataFrame, catalogue: Catalogue,
                   policy: Policy) -> tuple[np.ndarray, np.ndarray]:
    """The blended decision score and the model's own score; `category_points`: one column per category."""
    m = model_score(pd_values, policy)
    score = policy.blend.model_weight * m
    for category, weight in policy.blend.category_weight.items():
        max_points = catalogue.category_by_id[category].points
        share = category_points[category].to_numpy(dtype=float) / max_points if max_points else 0.0
        score = score + weight * 100 * share
    return score, m


def _column(rows: pd.DataFrame, name: str | None, default=np.nan) -> np.ndarray:
    if name and name in rows:
        return rows[name].to_numpy()
    return np.full(len(rows), default, dtype=object if isinstance(default, str) else float)


def _numbers(rows: pd.DataFrame, name: str | None) -> np.ndarray:
    """A column read as numbers (NaN where absent or unreadable)."""
    return pd.to_numeric(pd.Series(_column(rows, name)), errors="coerce").to_numpy(dtype=float)


def hard_declines(pd_values: np.ndarray, rows: pd.DataFrame, policy: Policy) -> tuple[list[np.ndarray], np.ndarray]:
    """Which firms each knock-out rule declines, and which the PD ceiling declines, whatever the score."""
    knocked = [_OPS[k.op](_numbers(rows, k.column), k.value) for k in policy.knock_outs]
    return knocked, np.asarray(pd_values, dtype=float) > policy.pd_decline_above


def decide(pd_values: np.ndarray, category_points: pd.DataFrame, rows: pd.DataFrame, catalogue: Catalogue,
           policy: Policy) -> pd.DataFrame:
    """The decision columns (`decision_fields`) for each firm, row for row with `rows`."""
    n = len(rows)
    pd_values = np.asarray(pd_values, dtype=float)
    score, m_score = decision_score(pd_values, category_points, catalogue, policy)
    knocked, pd_ceiling = hard_declines(pd_values, rows, policy)
    any_knock = np.any(knocked, axis=0) if knocked else np.zeros(n, dtype=bool)
    bands = policy.bands
    below_approve, below_refer = score < bands.approve_min, score < bands.refer_min
    decline = any_knock | pd_ceiling | below_refer
    refer = ~decline & below_approve
    code = np.where(decline, 2, np.where(refer, 1, 0))           # positions in OUTCOMES
    labels = list(OUTCOMES.values())

    lim = policy.limits
    kinds = pd.Index(list(lim.guarantees))
    g = kinds.get_indexer(_column(rows, lim.guarantee_column, lim.default_guarantee))
    g = np.where(g < 0, kinds.get_loc(lim.default_guarantee), g)     # unknown or missing: the default type
    terms = list(lim.guarantees.values())
    lgd = np.array([t.lgd for t in terms])[g]
    bounds = {"requested": _numbers(rows, lim.requested_column),
              "guarantee_cap": np.array([t.cap for t in terms])[g],
              "revenue": (_numbers(rows, lim.revenue_multiple.column) * lim.revenue_multiple.multiple
                          if lim.revenue_multiple else np.full(n, np.nan)),
              "expected_loss_budget": lim.expected_loss_budget / np.maximum(pd_values * lgd, 1e-12)}
    stacked = np.column_stack(list(bounds.values()))
    filled = np.where(np.isnan(stacked), np.inf, stacked)
    limit = np.floor(np.min(filled, axis=1) * 10) / 10                  # CNY 10k, down to 1,000 CNY
    limit = np.where(decline, 0.0, np.maximum(limit, 0.0))

    texts_en = [k.en for k in policy.knock_outs] + [
        f"model PD above {100 * policy.pd_decline_above:g}%", f"decision score below the refer band ({bands.refer_min:g})",
        f"decision score below the approve band ({bands.approve_min:g})"]
    texts_zh = [k.zh for k in policy.knock_outs] + [
        f"模型违约概率高于{100 * policy.pd_decline_above:g}%", f"决策得分低于提交评审线（{bands.refer_min:g}）",
        f"决策得分低于批准线（{bands.approve_min:g}）"]
    masks = np.column_stack([*knocked, pd_ceiling, below_refer & ~any_knock & ~pd_ceiling, refer])
    # Repeated texts as categoricals built from codes: no per-row string work (batch scoring pays for it).
    basis_names = ["", *bounds]
    basis_code = np.where(decline, 0, np.argmin(filled, axis=1) + 1)
    constant = np.zeros(n, dtype=int)
    return pd.DataFrame({
        "decision": pd.Categorical.from_codes(code, list(OUTCOMES)),
        "decision_zh": pd.Categorical.from_codes(code, [z for z, _ in labels]),
        "decision_en": pd.Categorical.from_codes(code, [e for _, e in labels]),
        "decision_score": score, "model_score": m_score, "limit": limit,
        "limit_basis": pd.Categorical.from_codes(basis_code, basis_names),
        "guarantee": pd.Categorical.from_codes(g, list(kinds)), "expected_loss": pd_values * lgd * limit,
        "decision_reasons": masked_lists(masks, texts_en)[0], "decision_reasons_zh": masked_lists(masks, texts_zh)[0],
        "policy_version": pd.Categorical.from_codes(constant, [policy.version]),
        "policy_hash": pd.Categorical.from_codes(constant, [policy.fingerprint])}, index=rows.index)
