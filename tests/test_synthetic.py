import hashlib

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2
from sklearn.metrics import roc_auc_score

from innoscore.features.synthetic import TRUTH_PREFIX, SyntheticConfig, generate_portfolio, write_portfolio


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_gives_byte_identical_files(tmp_path, catalogue):
    paths = []
    for i, seed in enumerate([5, 5, 6]):
        out, truth = write_portfolio(generate_portfolio(2000, seed=seed, catalogue=catalogue), tmp_path / f"p{i}.csv")
        paths.append((out, truth))
    assert _digest(paths[0][0]) == _digest(paths[1][0])
    assert _digest(paths[0][1]) == _digest(paths[1][1])
    assert _digest(paths[0][0]) != _digest(paths[2][0])


def test_default_rate_and_oracle_auc_sit_where_real_books_do(large_portfolio):
    d = large_portfolio.data
    assert 0.03 <= d["default_12m"].mean() <= 0.04
    assert 0.80 <= roc_auc_score(d["default_12m"], d["true_pd"]) <= 0.90


def test_base_rate_is_configurable(catalogue):
    cfg = SyntheticConfig.load(base_default_rate=0.08)
    d = generate_portfolio(30_000, seed=3, config=cfg, catalogue=catalogue).data
    assert d["true_pd"].mean() == pytest.approx(0.08, rel=0.02)
    assert 0.07 <= d["default_12m"].mean() <= 0.09


def test_true_pd_is_calibrated_against_outcomes(large_portfolio):
    d = large_portfolio.data
    decile = pd.qcut(d["true_pd"], 10, labels=False)
    g = d.groupby(decile).agg(n=("default_12m", "size"), obs=("default_12m", "sum"), exp=("true_pd", "sum"))
    hosmer_lemeshow = (((g.obs - g.exp) ** 2) / (g.exp * (1 - g.exp / g.n))).sum()
    assert chi2.sf(hosmer_lemeshow, df=8) > 0.001
    assert (g.obs / g.n).iloc[-1] > 5 * (g.obs / g.n).iloc[0]


@pytest.mark.parametrize("column, stat, low, high", [
    ("invention_patents", lambda s: (s == 0).mean(), 0.30, 0.40),
    ("revenue", lambda s: s.median(), 2000, 3200),
    ("debt_ratio", lambda s: s.mean(), 0.44, 0.56),
    ("tech_staff_ratio", lambda s: s.mean(), 0.24, 0.32),
    ("rd_intensity", lambda s: s.median(), 0.04, 0.065),
    ("credit_overdue_24m", lambda s: (s == 0).mean(), 0.85, 0.91),
    ("net_margin", lambda s: (s < 0).mean(), 0.20, 0.36),
    ("employees", lambda s: s.median(), 35, 70),
    ("ocf_to_revenue", lambda s: s.isna().mean(), 0.22, 0.28),
    ("forward_citations", lambda s: s.isna().mean(), 0.40, 0.60),
    ("patent_claims_avg", lambda s: s.isna().mean(), 0.30, 0.40),
])
def test_marginals_match_the_researched_ones(large_portfolio, column, stat, low, high):
    assert low <= stat(large_portfolio.data[column]) <= high


def test_missingness_is_partly_not_at_random(large_portfolio):
    d = large_portfolio.data
    missing = d["ocf_to_revenue"].isna()
    assert d.loc[missing, "true_pd"].mean() > 1.2 * d.loc[~missing, "true_pd"].mean()


def test_vintages_and_drift(large_portfolio):
    d = large_portfolio.data
    year = d["application_date"].dt.year
    assert sorted(year.unique()) == list(range(2018, 2025))
    assert d.loc[year == 2024, "rd_intensity"].median() > d.loc[year == 2018, "rd_intensity"].median()


def test_true_contributions_add_up_to_the_true_log_odds(large_portfolio):
    t = large_portfolio.true_contributions
    logit = t.filter(like=TRUTH_PREFIX).sum(axis=1)
    p = large_portfolio.data["true_pd"]
    np.testing.assert_allclose(logit, np.log(p / (1 - p)), atol=1e-5)
    assert (t["firm_id"] == large_portfolio.data["firm_id"]).all()


def test_generation_rejects_bad_parameters(catalogue):
    with pytest.raises(ValueError, match="n_firms"):
        generate_portfolio(0, catalogue=catalogue)
    with pytest.raises(ValueError, match="base_default_rate"):
        SyntheticConfig.load(base_default_rate=0.7)
