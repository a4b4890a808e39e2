"""Golden tests of the reason texts on the three real datasets (configs/examples): each sentence is
rebuilt here from its parts, computed independently of the explanation code, and must match."""
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from innoscore.features.catalogue import Direction, load_catalogue
from innoscore.features.derive import FeatureSet
from innoscore.features.validation import read_table, validate_frame
from innoscore.model.estimators.lightgbm_pd import LightGBMPD
from innoscore.model.explanation.contributions import explain
from innoscore.model.explanation.reasons import all_firm_reasons, format_value
from innoscore.paths import CONFIG_DIR

EXAMPLES = {"german_credit": "german_credit.csv", "credit_data": "credit_data.csv",
            "polish_bankruptcy": "polish_bankruptcy_year5.csv"}


@pytest.fixture(scope="module", params=list(EXAMPLES))
def explained(request):
    folder = CONFIG_DIR / "examples" / request.param
    catalogue = load_catalogue(folder / "catalogue.yaml")
    rows, report = validate_frame(read_table(folder / EXAMPLES[request.param]), catalogue, require_target=True)
    assert report.ok
    y = rows[catalogue.dataset.target_column].to_numpy().astype(int)
    train, test = train_test_split(np.arange(len(rows)), test_size=0.3, stratify=y, random_state=0)
    fit, valid = train_test_split(train, test_size=0.25, stratify=y[train], random_state=0)
    model = LightGBMPD(catalogue, params={"num_leaves": 7, "max_depth": 3, "min_child_samples": 20}, seed=0)
    model.fit(rows.iloc[fit], y[fit], eval_set=(rows.iloc[valid], y[valid]))
    quantiles = FeatureSet(catalogue).indicator_values(rows.iloc[fit]).quantile(np.linspace(0, 1, 101))
    firms = rows.iloc[test].reset_index(drop=True)
    expl = explain(model, firms)
    reasons = all_firm_reasons(expl, catalogue, quantiles, top_k=5)
    return catalogue, rows.iloc[fit], y[fit], firms, quantiles, reasons


def _all(reasons):
    return [(i, r) for i, firm in enumerate(reasons) for r in (*firm["risk_raising"], *firm["risk_lowering"])]


def _effect(c: float, against: bool, lang: str) -> str:
    if lang == "zh":
        return f"{'推高' if c > 0 else '降低'}违约风险（{c:+.2f}）" + ("，与目录设定的风险方向相反" if against else "")
    return f"{'raises' if c > 0 else 'lowers'} default risk ({c:+.2f})" + (
        ", against the catalogue's declared direction" if against else "")


def _pct(share: float) -> str:
    return f"{100 * share:.1f}".rstrip("0").rstrip(".") + "%"


def test_no_reason_is_smaller_than_the_catalogues_minimum(explained):
    catalogue, *_, reasons = explained
    assert catalogue.explanations.min_contribution == 0.005
    assert _all(reasons) and all(abs(r["contribution"]) >= 0.005 for _, r in _all(reasons))


def test_a_missing_value_is_said_with_how_often_defaulted_and_other_firms_lacked_it(explained):
    catalogue, train, y, _, _, reasons = explained
    missing = [r for _, r in _all(reasons) if r["value"] is None]
    for r in missing:
        ind = catalogue.by_id[r["indicator"]]
        absent = train[ind.id].isna().to_numpy()
        bad, good = _pct(absent[y == 1].mean()), _pct(absent[y == 0].mean())
        assert r["flags"] == ["missing"]
        assert r["text_en"] == (f"{ind.name_en}: not provided (missing for {bad} of defaulted firms and {good} of "
                                f"others in training); {_effect(r['contribution'], False, 'en')}")
        assert r["text_zh"] == (f"{ind.name_zh}未提供（训练样本中违约企业{bad}、其他企业{good}未提供），"
                                f"{_effect(r['contribution'], False, 'zh')}")
    if "polish" in catalogue.version:
        assert len(missing) > 10      # missingness is a signal there (a bank's export has gaps)


def test_a_value_is_placed_among_peers_and_marked_when_its_effect_runs_against_the_direction(explained):
    catalogue, *_, quantiles, reasons = explained
    checked = against_seen = 0
    for _, r in _all(reasons):
        ind = catalogue.by_id[r["indicator"]]
        if r["value"] is None or ind.type in ("ordinal", "categorical", "boolean"):
            continue
        q = quantiles[ind.id].to_numpy()
        below = 100 * min((q < r["value"]).sum(), 100) / 100
        above = min(100 * max(0, 101 - max((q <= r["value"]).sum(), 1)) / 100, 100 - below)
        med = format_value(ind, float(q[50]), "en")
        if below <= 50 and above <= 50:
            place = f", at the peer median ({med})"
        elif below + (100 - below - above) / 2 >= 50:
            place = f", higher than {below:.0f}% of peers (median {med})"
        else:
            place = f", lower than {above:.0f}% of peers (median {med})"
        mid = below + (100 - below - above) / 2
        against = (ind.direction in (Direction.higher_worse, Direction.higher_better) and not place.startswith(", at")
                   and ((mid > 50) == (ind.direction is Direction.higher_worse)) != (r["contribution"] > 0))
        assert r["flags"] == (["against_declared_direction"] if against else [])
        value = format_value(ind, r["value"], "en")
        assert r["text_en"] == f"{ind.name_en} is {value}{place}; {_effect(r['contribution'], against, 'en')}"
        assert ind.name_zh in r["text_zh"] and r["text_zh"].count(ind.name_zh) == 1    # said once
        checked += 1
        against_seen += against
    assert checked > 50
    assert against_seen > 0     # indicators the monotone policy left free: marked, not hidden


def test_golden_sentences_of_the_polish_firms():
    """Three sentences as a credit officer reads them, from a fixed model of the Polish firms."""
    catalogue = load_catalogue(CONFIG_DIR / "examples" / "polish_bankruptcy" / "catalogue.yaml")
    ind = catalogue.by_id["attr20"]
    from innoscore.model.explanation.reasons import _reason
    at_median = _reason(ind, 0.09, 0.2, (40.0, 45.0), 0.09, catalogue, ("zh", "en"))
    assert at_median["text_en"] == ("(Inventory x 365) / sales is 0.09 days, at the peer median (0.09 days); "
                                    "raises default risk (+0.20)")
    assert at_median["text_zh"] == "(Inventory x 365) / sales为0.09天，与同业中位数持平（0.09天），推高违约风险（+0.20）"
    missing = _reason(ind, float("nan"), 1.5, (math.nan, math.nan), 0.09, catalogue, ("en",),
                      missing_rates=(0.44, 0.028))
    assert missing["text_en"] == ("(Inventory x 365) / sales: not provided (missing for 44% of defaulted firms and "
                                  "2.8% of others in training); raises default risk (+1.50)")
    safer = _reason(ind, 0.01, 0.3, (5.0, 94.0), 0.09, catalogue, ("en",))      # fewer days than peers
    assert safer["flags"] == ["against_declared_direction"]
    assert safer["text_en"] == ("(Inventory x 365) / sales is 0.01 days, lower than 94% of peers (median 0.09 "
                                "days); raises default risk (+0.30), against the catalogue's declared direction")
    assert at_median["flags"] == []                     # a value at the median has no side


def test_each_reason_states_the_firms_own_value(explained, request):
    """A reason's value is the firm's own input, a categorical indicator's level included (German
    credit's purpose, savings, housing ... are levels)."""
    catalogue, _, _, firms, _, reasons = explained
    levels_said = 0
    for i, r in _all(reasons):
        own = firms.at[i, r["indicator"]]
        if pd.isna(own):
            assert r["value"] is None, (i, r["indicator"])
        elif catalogue.by_id[r["indicator"]].type == "categorical":
            assert str(r["value"]) == str(own), (i, r["indicator"], r["value"], own)
            levels_said += 1
        else:
            assert r["value"] == pytest.approx(float(own)), (i, r["indicator"])
    if "german_credit" in request.node.callspec.id:
        assert levels_said > 100
