"""Policy what-if: re-decide a portfolio under a changed policy and measure what changes.

Approved means `approve` (a referral is not yet a loan). The approved book's expected default rate
is the mean model PD of the approved firms, its expected loss the sum of PD x LGD x limit; where the
portfolio has outcomes (or, synthetic, a true PD) the observed (true) rate is given beside it. The
limit of reject inference applies: firms a policy declined have no outcomes in a real book, so the
observed rates of newly approved firms are unknown there and only the model's estimate remains.
Where the portfolio says which firms the bank's past policy declined (`previously_declined`, e.g.
from a `booked` column), they are a segment of their own: the firms a model trained on the booked
ones knows least (docs/reject-inference.md). Observed rates count the firms with an outcome.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from innoscore.features.catalogue import Catalogue
from innoscore.model.decision.decide import decide, decision_score, hard_declines
from innoscore.model.decision.policy import Policy
from innoscore.model.decision.pricing import PRICE_FIELDS, net_income


@dataclass
class Portfolio:
    """What re-deciding needs of each firm: its model PD, expert points per category, its input row
    (knock-out and loan fields) and, where known, the outcome and the true PD."""

    pd: np.ndarray
    category_points: pd.DataFrame
    rows: pd.DataFrame
    outcome: np.ndarray | None = None          # 1 bad, 0 good, NaN unknown (a firm the bank did not book)
    true_pd: np.ndarray | None = None
    previously_declined: np.ndarray | None = None   # declined by the bank's past policy (no outcome seen)


def _rate(values: np.ndarray | None, mask: np.ndarray) -> float | None:
    """The mean of `values` over `mask` where known (None: nothing known there)."""
    if values is None:
        return None
    known = values[mask]
    known = known[~np.isnan(known)]
    return float(known.mean()) if len(known) else None


def book_income(decisions: pd.DataFrame, portfolio: Portfolio, policy: Policy, approved: np.ndarray) -> dict:
    """Expected annual net income and RAROC (net income / capital) of the approved book at the rate
    floors (RAROC is then the hurdle rate, a check) and at the offered rates where the data has them."""
    pricing = policy.pricing
    prices = {name: decisions[name].to_numpy()[approved] for name in PRICE_FIELDS}
    limit = decisions["limit"].to_numpy()[approved]
    capital = float((prices["capital_per_unit"] * limit).sum())
    out = {"mean_rate_floor": float(prices["rate_floor"].mean()) if approved.any() else None,
           "inclusive_share": float(prices["inclusive"].mean()) if approved.any() else None,
           "capital": capital}
    rates = {"": prices["rate_floor"]}
    column = pricing.offered_rate_column
    if column and column in portfolio.rows:
        rates["_offered"] = pd.to_numeric(portfolio.rows[column], errors="coerce").to_numpy(dtype=float)[approved]
    for suffix, rate in rates.items():
        income = float(np.nansum(net_income(rate, prices, limit, pricing)))
        out[f"expected_net_income{suffix}"] = income
        out[f"raroc{suffix}"] = income / capital if capital > 0 else None
    return out


def book(decisions: pd.DataFrame, portfolio: Portfolio, policy: Policy) -> dict:
    """Approval rate, expected default rate and loss of the approved book (and observed/true rates),
    and its income at the rate floors (`book_income`)."""
    approved = (decisions["decision"] == "approve").to_numpy()
    return {"n": int(len(approved)), "n_approved": int(approved.sum()), "approval_rate": float(approved.mean()),
            "refer_rate": float((decisions["decision"] == "refer").mean()),
            "expected_default_rate": _rate(portfolio.pd, approved),
            "expected_loss": float(decisions["expected_loss"].to_numpy()[approved].sum()),
            "approved_limit": float(decisions["limit"].to_numpy()[approved].sum()),
            "observed_default_rate": _rate(portfolio.outcome, approved),
            "true_default_rate": _rate(portfolio.true_pd, approved),
            **book_income(decisions, portfolio, policy, approved)}


def swap_set(current: pd.DataFrame, proposed: pd.DataFrame, portfolio: Portfolio, within: np.ndarray | None = None
             ) -> dict:
    """Approved by both / only the proposed / only the current policy / neither: counts, mean PD and,
    where known, the bad rate and the true PD of each cell (of the firms `within`, default all)."""
    a, b = (current["decision"] == "approve").to_numpy(), (proposed["decision"] == "approve").to_numpy()
    within = np.ones(len(a), dtype=bool) if within is None else within
    cells = {"both": a & b & within, "only_proposed": b & ~a & within, "only_current": a & ~b & within,
             "neither": ~a & ~b & within}
    return {name: {"count": int(mask.sum()), "mean_pd": _rate(portfolio.pd, mask),
                   "bad_rate": _rate(portfolio.outcome, mask), "true_pd": _rate(portfolio.true_pd, mask)}
            for name, mask in cells.items()}


def previously_declined(current: pd.DataFrame, proposed: pd.DataFrame, portfolio: Portfolio) -> dict | None:
    """The firms the bank's past policy declined: how many, how many each policy approves, their mean
    model PD against the true PD where known (the model's error where it has seen no outcome), and
    the swap set among them."""
    declined = portfolio.previously_declined
    if declined is None:
        return None
    model_pd, true_pd = _rate(portfolio.pd, declined), _rate(portfolio.true_pd, declined)
    return {"count": int(declined.sum()), "share": float(declined.mean()),
            "approved_current": int(((current["decision"] == "approve").to_numpy() & declined).sum()),
            "approved_proposed": int(((proposed["decision"] == "approve").to_numpy() & declined).sum()),
            "mean_pd": model_pd, "true_pd": true_pd, "bad_rate": _rate(portfolio.outcome, declined),
            "pd_over_true": model_pd / true_pd if model_pd is not None and true_pd else None,
            "swap_set": swap_set(current, proposed, portfolio, within=declined)}


def strategy_curve(policy: Policy, portfolio: Portfolio, catalogue: Catalogue, n_points: int = 41) -> pd.DataFrame:
    """Approval rate against the approved book's default rate as the approve cut-off moves (the
    knock-outs and the PD ceiling still decline; a firm with an unchecked knock-out is not approved)."""
    score, _ = decision_score(portfolio.pd, portfolio.category_points, catalogue, policy)
    knocked, unchecked, ceiling = hard_declines(portfolio.pd, portfolio.rows, policy, catalogue)
    eligible = ~(np.any(knocked + unchecked, axis=0) if knocked else np.zeros(len(score), dtype=bool)) & ~ceiling
    rows = []
    for cutoff in np.linspace(0, 100, n_points):
        approved = eligible & (score >= cutoff)
        rows.append({"cutoff": float(cutoff), "approval_rate": float(approved.mean()),
                     "expected_default_rate": _rate(portfolio.pd, approved),
                     "observed_default_rate": _rate(portfolio.outcome, approved),
                     "true_default_rate": _rate(portfolio.true_pd, approved)})
    return pd.DataFrame(rows)


def tech_weight_sweep(policy: Policy, portfolio: Portfolio, catalogue: Catalogue, steps: int = 20) -> pd.DataFrame:
    """Approval and default rates at the policy's own cut-offs as the tech-innovation share of the
    blend goes from 0 to 1 (`steps` + 1 points, the other weights scaled to make room)."""
    rows = []
    for weight in np.linspace(0, 1, steps + 1):
        changed = policy.with_overrides({"tech_innovation_weight": float(weight)})
        decided = decide(portfolio.pd, portfolio.category_points, portfolio.rows, catalogue, changed)
        rows.append({"tech_innovation_weight": float(weight), **book(decided, portfolio, changed)})
    return pd.DataFrame(rows)


def ftp_discount_sweep(policy: Policy, portfolio: Portfolio, catalogue: Catalogue,
                       discounts_bp=range(0, 201, 10)) -> pd.DataFrame:
    """The approved book as the inclusive FTP discount goes from 0 to 200 bp: its mean rate floor,
    and its income at the offered rates where the data has them (with a rate cap, also how many
    loans it can price)."""
    rows = []
    for bp in discounts_bp:
        changed = policy.with_overrides({"pricing.inclusive_discount": bp / 1e4})
        decided = decide(portfolio.pd, portfolio.category_points, portfolio.rows, catalogue, changed)
        rows.append({"ftp_discount_bp": int(bp), **book(decided, portfolio, changed)})
    return pd.DataFrame(rows)


def what_if(portfolio: Portfolio, catalogue: Catalogue, current: Policy, proposed: Policy, steps: int = 20) -> dict:
    """Everything the what-if report shows, as plain data (the `--json-out` document, with the curves)."""
    cur = decide(portfolio.pd, portfolio.category_points, portfolio.rows, catalogue, current)
    new = decide(portfolio.pd, portfolio.category_points, portfolio.rows, catalogue, proposed)
    tech = current.tech_innovation_categories
    return {
        "current": {**book(cur, portfolio, current), "policy_hash": current.fingerprint,
                    "tech_innovation_weight": sum(current.blend.category_weight[c] for c in tech)},
        "proposed": {**book(new, portfolio, proposed), "policy_hash": proposed.fingerprint,
                     "tech_innovation_weight": sum(proposed.blend.category_weight[c] for c in tech)},
        "swap_set": swap_set(cur, new, portfolio),
        **({"previously_declined": segment} if (segment := previously_declined(cur, new, portfolio)) else {}),
        "strategy_curve": {"current": strategy_curve(current, portfolio, catalogue).to_dict("records"),
                           "proposed": strategy_curve(proposed, portfolio, catalogue).to_dict("records")},
        "sweep": tech_weight_sweep(current, portfolio, catalogue, steps).to_dict("records"),
        "ftp_discount_sweep": ftp_discount_sweep(current, portfolio, catalogue).to_dict("records"),
        "blend": {"current": current.blend.model_dump(), "proposed": proposed.blend.model_dump()},
    }
