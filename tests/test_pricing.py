"""Risk-based pricing: the Basel IRB capital against hand computation, the rate floor of every firm of
a batch against an independent computation, the FTP discount, and the book's income in the what-if."""
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from innoscore.features.synthetic import generate_portfolio
from innoscore.features.validation import validate_frame
from innoscore.model.decision.decide import decide
from innoscore.model.decision.policy import Policy, load_policy
from innoscore.model.decision.pricing import irb_capital
from innoscore.model.decision.what_if import Portfolio, what_if
from innoscore.model.estimators.expert_scorecard import category_points

N = NormalDist()


def _k_by_hand(pd_, lgd, m, s=None) -> float:
    """Basel CRE31: corporate (SME with sales s in EUR millions, 5 <= s <= 50) capital requirement K."""
    w = (1 - np.exp(-50 * pd_)) / (1 - np.exp(-50))
    r = 0.12 * w + 0.24 * (1 - w) - (0.04 * (1 - (s - 5) / 45) if s is not None else 0.0)
    b = (0.11852 - 0.05478 * np.log(pd_)) ** 2
    conditional = N.cdf((1 - r) ** -0.5 * N.inv_cdf(pd_) + (r / (1 - r)) ** 0.5 * N.inv_cdf(0.999))
    return (lgd * conditional - pd_ * lgd) * (1 - 1.5 * b) ** -1 * (1 + (m - 2.5) * b)


@pytest.mark.parametrize("pd_, lgd, m, s", [(0.01, 0.45, 2.5, None), (0.0003, 0.45, 1.0, None),
                                            (0.05, 0.25, 1.0, 10.0), (0.2, 0.35, 5.0, 27.5), (0.02, 0.45, 2.5, 5.0)])
def test_irb_capital_is_the_basel_formula(pd_, lgd, m, s):
    got = irb_capital([pd_], [lgd], [m], None if s is None else [s], 5.0, 50.0, pd_floor=0.0)[0]
    assert got == pytest.approx(_k_by_hand(pd_, lgd, m, s), abs=1e-9)


def test_irb_capital_matches_the_published_risk_weight_and_floors_the_pd():
    # BCBS's illustrative risk weights (corporate, LGD 45%, M 2.5): PD 1% -> 92.32%
    assert 12.5 * irb_capital([0.01], [0.45], [2.5])[0] == pytest.approx(0.9232, abs=5e-5)
    floored = irb_capital([0.0], [0.45], [1.0], pd_floor=0.0005)[0]
    assert floored == pytest.approx(_k_by_hand(0.0005, 0.45, 1.0), abs=1e-12)
    small, large = irb_capital([0.02] * 2, [0.45] * 2, [1.0] * 2, [5.0, 60.0], 5.0, 50.0)
    assert small < large and large == pytest.approx(_k_by_hand(0.02, 0.45, 1.0), abs=1e-12)


@pytest.fixture(scope="module")
def batch(catalogue):
    rows, _ = validate_frame(generate_portfolio(10_000, seed=5, catalogue=catalogue).data, catalogue)
    return rows, rows["true_pd"].to_numpy(dtype=float), category_points(rows, catalogue)


def _floor_by_hand(rows, p, decided, policy: Policy) -> np.ndarray:
    pr, cap = policy.pricing, policy.pricing.capital
    lgd = np.array([policy.limits.guarantees[g].lgd for g in decided["guarantee"].astype(str)])
    limit = decided["limit"].to_numpy()
    small = (rows["employees"].to_numpy(dtype=float) < 300) | (rows["revenue"].to_numpy(dtype=float) < 2000)
    ftp = pr.ftp_rate - np.where((limit <= 1000) & small, pr.inclusive_discount, 0.0)
    if cap.approach == "standardized":
        capital = np.where(limit <= 1000, 0.75, 0.85) * pr.capital_ratio
    else:
        maturity = np.clip(rows["loan_term_months"].to_numpy(dtype=float) / 12, 1, 5)
        sales = rows["revenue"].to_numpy(dtype=float)
        k = np.array([_k_by_hand(max(q, cap.pd_floor), l, mm, None) if s >= 30000 else
                      _k_by_hand(max(q, cap.pd_floor), l, mm, 5 + 45 * (max(s, 3000) - 3000) / 27000)
                      for q, l, mm, s in zip(p, lgd, maturity, sales)])
        capital = 12.5 * k * pr.capital_ratio
    return ftp + p * lgd + pr.operating_cost_rate + capital * (pr.hurdle_rate / (1 - pr.tax_rate) - ftp)


@pytest.mark.parametrize("approach", ["standardized", "irb"])
def test_every_rate_floor_of_a_batch_equals_an_independent_computation(batch, catalogue, approach):
    rows, p, points = batch
    raw = load_policy(catalogue=catalogue).model_dump(mode="json")
    raw["pricing"]["capital"]["approach"] = approach
    policy = Policy.model_validate(raw)
    decided = decide(p, points, rows, catalogue, policy)
    priced = (decided["decision"] != "decline").to_numpy()
    assert priced.sum() > 5000
    expected = _floor_by_hand(rows, p, decided, policy)
    np.testing.assert_allclose(decided["rate_floor"].to_numpy()[priced], expected[priced], rtol=0, atol=1e-9)
    assert decided["rate_floor"][~priced].isna().all() and not decided["inclusive"][~priced].any()


def test_default_pricing_discount_monotone_floor_and_expected_loss(batch, catalogue):
    rows, p, points = batch
    policy = load_policy(catalogue=catalogue)
    decided = decide(p, points, rows, catalogue, policy)
    priced = decided[decided["decision"] != "decline"]
    inclusive = priced["inclusive"].to_numpy(bool)
    assert 0 < inclusive.sum() < len(priced)
    assert set(np.round(priced["ftp_rate"][inclusive], 12)) == {round(0.025 - 0.011, 12)}
    assert set(np.round(priced["ftp_rate"][~inclusive], 12)) == {0.025}
    lgd = np.array([policy.limits.guarantees[g].lgd for g in priced["guarantee"].astype(str)])
    np.testing.assert_allclose(priced["expected_loss_rate"], p[priced.index] * lgd, atol=1e-15)
    grid = np.linspace(0.0001, 0.14, 200)                   # one firm, its PD rising, all else fixed
    firm = rows.iloc[[0] * len(grid)].reset_index(drop=True)
    for approach in ("standardized", "irb"):
        raw = policy.model_dump(mode="json")
        raw["pricing"]["capital"]["approach"] = approach
        raw["bands"] = {"approve_min": 0, "refer_min": 0}
        floors = decide(grid, points.iloc[[0] * len(grid)].reset_index(drop=True), firm, catalogue,
                        Policy.model_validate(raw))["rate_floor"].to_numpy()
        assert not np.isnan(floors).any() and np.all(np.diff(floors) >= 0), approach


def test_a_rate_cap_refers_what_it_cannot_price(batch, catalogue):
    rows, p, points = batch
    capped = load_policy(catalogue=catalogue).with_overrides({"pricing.rate_cap": 0.06})
    decided = decide(p, points, rows, catalogue, capped)
    over = decided["rate_floor"].to_numpy() > 0.06
    assert over.any() and (decided["decision"][over] != "approve").all()
    assert any("rate floor above the rate cap (6%)" in r for r in decided["decision_reasons"][over].iloc[0])


def test_what_if_gives_the_books_income_and_the_discount_moves_it(batch, catalogue):
    rows, p, points = batch
    offered = rows.assign(offered_rate=0.06)
    portfolio = Portfolio(p, points, offered)
    current = load_policy(catalogue=catalogue)
    proposed = current.with_overrides({"pricing.inclusive_discount": 0.02})
    result = what_if(portfolio, catalogue, current, proposed, steps=4)
    for side in ("current", "proposed"):
        assert {"expected_net_income", "raroc", "expected_net_income_offered", "raroc_offered"} <= set(result[side])
        assert result[side]["raroc"] == pytest.approx(current.pricing.hurdle_rate, abs=1e-12)   # at the floors
    cur, new = result["current"], result["proposed"]
    assert new["expected_net_income_offered"] > cur["expected_net_income_offered"]   # cheaper funding, same price
    assert new["mean_rate_floor"] < cur["mean_rate_floor"]
    sweep = pd.DataFrame(result["ftp_discount_sweep"])
    assert sweep["ftp_discount_bp"].tolist() == list(range(0, 201, 10))
    assert sweep["mean_rate_floor"].is_monotonic_decreasing
    assert sweep["expected_net_income_offered"].is_monotonic_increasing
