"""Counterfactuals on real models: every returned change set reaches its target when re-scored, moves
only actionable indicators, each in its direction, within bounds and on its step; the fewest changes;
fidelity to the true data-generating process."""
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from innoscore.cli import app
from innoscore.features.catalogue import Catalogue
from innoscore.features.derive import FeatureSet
from innoscore.features.synthetic import generate_portfolio, true_log_odds_of_rows
from innoscore.features.validation import validate_frame
from innoscore.model.config import TrainingConfig
from innoscore.model.counterfactual.candidates import IndicatorSpace
from innoscore.model.counterfactual.search import CounterfactualSearch, Target
from innoscore.model.decision.policy import load_policy
from innoscore.model.estimators.expert_scorecard import ExpertScorecard
from innoscore.model.estimators.lightgbm_pd import LightGBMPD
from innoscore.model.scoring.interface import ScoringModel
from innoscore.model.scoring.reference import ReferenceProfile
from innoscore.model.scoring.score import score_frame

IMMUTABLE = {"founder_industry_years", "niche_years", "credit_overdue_24m", "revenue", "tax_credit_grade"}


def test_actionability_defaults_and_the_catalogue_s_immutables(catalogue):
    by_id = catalogue.by_id
    assert by_id["invention_patents"].feasible_direction == "increase"        # higher is better: add patents
    assert by_id["debt_ratio"].feasible_direction == "decrease"
    assert by_id["rd_intensity"].feasible_direction == "increase"     # non-monotone: as the catalogue declares
    assert by_id["employees"].feasible_direction is None                # non-monotone, no declared way: not moved
    assert all(by_id[i].feasible_direction is None for i in IMMUTABLE)
    assert by_id["invention_patents"].action_step == 1 and by_id["debt_ratio"].action_step == 0.001   # 0.1%
    raw = catalogue.model_dump(mode="json")
    raw["indicators"][0]["action"] = {"bounds": [5, 1]}
    with pytest.raises(ValueError, match="min > max"):
        Catalogue.model_validate(raw)


def test_candidates_keep_direction_bounds_and_steps(catalogue):
    space = IndicatorSpace(catalogue.by_id["invention_patents"], 0.0, 30.0, 1.0, 5.0,
                           np.array([0.5, 2.7, 4.2, 9.9, 55.0]), np.linspace(0, 30, 101), np.inf)
    values = space.candidates(3.0)
    assert set(values) == {5.0, 10.0, 30.0}                 # past 4.2 and 9.9, and the upper bound; not 55
    peers = np.linspace(0, 1, 101)                          # percentile p at value p / 100
    down = IndicatorSpace(catalogue.by_id["debt_ratio"], 0.05, 0.95, 0.001, 0.4, np.array([0.3, 0.5, 0.7, 0.9]),
                          peers, np.inf)
    values = down.candidates(0.8)
    assert np.all(values < 0.8) and 0.7 in values and 0.05 in values and 0.9 not in values
    assert down.cost(0.8, 0.4) == pytest.approx(40 / 80 + 0.1)      # 40 percentiles, and 0.1 of one spread
    near = IndicatorSpace(catalogue.by_id["debt_ratio"], 0.05, 0.95, 0.001, 0.4, np.array([0.3, 0.5, 0.7, 0.9]),
                          peers, 0.5)                       # at most half its value (or half a spread) down
    assert near.candidates(0.8).min() == pytest.approx(0.4) and 0.3 not in near.candidates(0.8)
    odd = IndicatorSpace(catalogue.by_id["debt_ratio"], 0.0, 1.0, 0.001, 0.4, np.array([0.42613]), peers, np.inf)
    assert 0.426 in odd.candidates(0.8)                     # on the grid a reason shows (42.6%), left of 0.42613


@pytest.fixture(scope="module")
def models(catalogue):
    """A small LightGBM and the expert scorecard, fitted here, with their reference profiles."""
    data = generate_portfolio(16_000, seed=21, catalogue=catalogue).data
    rows, _ = validate_frame(data, catalogue)
    y = rows[catalogue.dataset.target_column].to_numpy()
    train, valid = rows.iloc[:12_000], rows.iloc[12_000:]
    scale = TrainingConfig.load().grade_scale
    values = FeatureSet(catalogue).indicator_values(train)
    out = {}
    for kind, est in (("lightgbm", LightGBMPD(catalogue, n_estimators=400, num_threads=2, early_stopping_rounds=50,
                                              learning_rate=0.05, params={"num_leaves": 7, "max_depth": 3,
                                                                          "min_child_samples": 100})),
                      ("expert_scorecard", ExpertScorecard(catalogue))):
        if kind == "lightgbm":
            est.fit(train, y[:12_000], eval_set=(valid, y[12_000:]))      # early stopping and Platt calibration
        else:
            est.fit(train, y[:12_000])
        p = est.predict_pd(train)
        out[kind] = ScoringModel(est, catalogue, scale, kind,
                                 ReferenceProfile.build(values, p, scale.assign(p), scale.labels))
    return out


@pytest.fixture(scope="module")
def firms(catalogue, models):
    """Up to 35 firms of every grade the model gives (a fresh draw): a few hundred."""
    rows, _ = validate_frame(generate_portfolio(6000, seed=22, catalogue=catalogue).data, catalogue)
    grades = models["lightgbm"].grade(models["lightgbm"].predict_pd(rows))
    picked = pd.concat([rows[grades == g].head(35) for g in models["lightgbm"].grade_scale.labels])
    return picked.reset_index(drop=True)


def _apply(firms: pd.DataFrame, found, id_col: str) -> tuple[pd.DataFrame, list]:
    rows, where = [], []
    for i, cf in enumerate(found):
        for k, alt in enumerate(cf.alternatives):
            row = firms.iloc[[i]].copy()
            for c in alt.changes:
                row[c.indicator] = c.to
            row[id_col] = f"{cf.firm_id}#{k}"
            rows.append(row)
            where.append((cf, alt))
    return pd.concat(rows, ignore_index=True), where


@pytest.mark.parametrize("kind", ["lightgbm", "expert_scorecard"])
def test_every_counterfactual_reaches_its_target_and_respects_the_catalogue(models, firms, catalogue, kind):
    model = models[kind]
    labels = model.grade_scale.labels
    search = CounterfactualSearch(model, k=3, max_changes=3)
    found = []
    for g in labels[1:]:                                    # every grade but the best: one grade better
        current = firms[model.grade(model.predict_pd(firms)) == g]
        if len(current):
            found += search.explain(current, Target(grade=labels[labels.index(g) - 1]))
    assert sum(cf.status == "found" for cf in found) >= 0.5 * len(found)
    changed, where = _apply(firms.set_index(catalogue.dataset.firm_id_column, drop=False)
                            .loc[[cf.firm_id for cf in found]].reset_index(drop=True), found,
                            catalogue.dataset.firm_id_column)
    rescored = score_frame(changed, model)                  # the full path, validation included
    bounds = {g.grade: g.pd_max for g in model.grade_scale.grades}
    for (cf, alt), p in zip(where, rescored["pd"]):
        assert p <= bounds[cf.target.grade] and p == pytest.approx(alt.pd, abs=1e-12)
        assert 1 <= len(alt.moved) <= 3
        for c in alt.changes:
            ind = catalogue.by_id[c.indicator]
            direction = ind.feasible_direction
            assert direction is not None, f"{c.indicator} is not actionable"
            assert (c.to > c.from_) if direction == "increase" else (c.to < c.from_) if direction == "decrease" else True
            low, high = ind.action_bounds
            assert low <= c.to <= high
            assert round(c.to / ind.action_step) == pytest.approx(c.to / ind.action_step, abs=1e-6)
        assert alt.text_zh.startswith("若") and "PD falls" in alt.text_en and "模型估计" in alt.text_zh
    for cf in found:
        assert cf.status in ("found", "not_found") and (cf.alternatives or cf.status == "not_found")
        sets = [frozenset(c.indicator for c in a.moved) for a in cf.alternatives]
        assert len(sets) == len(set(sets))                  # alternatives change different indicators


def test_a_firm_that_one_change_can_fix_gets_a_one_change_answer(models, firms):
    """Exhaustive check of minimality on the additive scorecard: wherever some single candidate change
    reaches the target, the search's first alternative changes one indicator; elsewhere more."""
    model = models["expert_scorecard"]
    search = CounterfactualSearch(model, k=1, max_changes=3)
    target = Target(grade="BBB")
    bound = next(g.pd_max for g in model.grade_scale.grades if g.grade == "BBB")
    worse = firms[model.predict_pd(firms) > bound].head(40).reset_index(drop=True)
    for i, cf in enumerate(search.explain(worse, target)):
        row = worse.iloc[[i]]
        singles = []
        for ind, space in search.spaces_.items():
            x0 = row[ind].iloc[0]
            if pd.isna(x0) or ind == "rd_intensity":       # moved only with R&D expense (the relation)
                continue
            for v in space.candidates(float(x0), limit=10_000):
                changed = row.copy()
                changed[ind] = v
                if ind == "rd_expense":                     # R&D intensity follows, as the catalogue says
                    now, implied = row["rd_intensity"].iloc[0], round(v / row["revenue"].iloc[0], 3)
                    low, high = search.spaces_["rd_intensity"].reach(now)
                    if not (now < v / row["revenue"].iloc[0] and low <= v / row["revenue"].iloc[0] <= high):
                        continue
                    changed["rd_intensity"] = implied
                singles.append(changed)
        reachable = bool(singles) and (model.predict_pd(pd.concat(singles)) <= bound).any()
        assert (cf.status == "found" and len(cf.alternatives[0].moved) == 1) == reachable, cf.firm_id


def test_already_met_not_found_and_bad_targets(models, firms):
    model = models["lightgbm"]
    search = CounterfactualSearch(model, k=2, max_changes=1)
    best = firms.iloc[[0]]
    assert search.explain(best, Target(grade="C"))[0].status == "already_met"
    worst = firms.tail(1)
    cf = search.explain(worst, Target(grade="AAA"))[0]
    assert cf.status == "not_found" and "No feasible change of up to 1" in cf.text_en
    with pytest.raises(ValueError, match="unknown target grade"):
        search.explain(best, Target(grade="Z"))
    with pytest.raises(ValueError, match="either a grade or a decision"):
        Target()
    with pytest.raises(ValueError, match="needs a credit policy"):
        search.explain(best, Target(decision="approve"))


def test_approval_counterfactuals_are_approved_when_decided_again(models, firms, catalogue):
    model, policy = models["lightgbm"], load_policy(catalogue=catalogue)
    search = CounterfactualSearch(model, k=2, policy=policy)
    decided = score_frame(firms, model, policy=policy)
    refused = firms[(decided["decision"] != "approve").to_numpy()].head(25).reset_index(drop=True)
    found = search.explain(refused, Target(decision="approve"))
    assert any(cf.status == "found" for cf in found)
    changed, where = _apply(refused, found, catalogue.dataset.firm_id_column)
    again = score_frame(changed, model, policy=policy)
    assert (again["decision"] == "approve").all()
    assert all(alt.decision == "approve" for _, alt in where)


def test_most_suggested_changes_also_lower_the_true_pd(models, firms, catalogue):
    """Fidelity to the data-generating process, not only to the model (benchmarks/counterfactual.py
    measures it on more firms)."""
    model = models["lightgbm"]
    bound = next(g.pd_max for g in model.grade_scale.grades if g.grade == "BBB")
    worse = firms[model.predict_pd(firms) > bound].reset_index(drop=True)
    found = CounterfactualSearch(model).explain(worse, Target(grade="BBB"))
    changed, where = _apply(worse, found, catalogue.dataset.firm_id_column)
    originals = pd.concat([worse[worse[catalogue.dataset.firm_id_column] == cf.firm_id] for cf, _ in where],
                          ignore_index=True)
    truth = true_log_odds_of_rows(pd.concat([originals, changed], ignore_index=True))
    lowered = truth[len(originals):] < truth[:len(originals)]
    assert lowered.mean() >= 0.75, lowered.mean()


@pytest.mark.slow
def test_cli_writes_the_json_contract_and_a_report_section(trained, tmp_path):
    data = trained["data"]
    data = data[data["application_date"].dt.year == 2024].head(40)
    path = tmp_path / "firms.parquet"
    data.to_parquet(path)
    out = tmp_path / "cf.json"
    result = CliRunner().invoke(app, ["explain", "--data", str(path), "--all", "--out-dir", str(tmp_path / "pack"),
                                      "--model-uri", "models:/innoscore-pd@challenger", "--counterfactual",
                                      "--target-grade", "A", "--json-out", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    records = [r["counterfactual"] for r in json.loads(out.read_text(encoding="utf-8"))]
    assert len(records) == len(data)
    assert set(records[0]) >= {"firm_id", "target", "alternatives"}
    with_alternatives = [r for r in records if r["alternatives"]]
    assert with_alternatives
    first = with_alternatives[0]
    assert first["target"] == {"grade": "A"}
    assert set(first["alternatives"][0]) >= {"changes", "pd", "grade"}
    assert set(first["alternatives"][0]["changes"][0]) == {"indicator", "from", "to"}
    page = (tmp_path / "pack").glob(f"*{first['firm_id']}*.html")
    assert "What it would take" in next(page).read_text(encoding="utf-8")
    result = CliRunner().invoke(app, ["explain", "--data", str(path), "--all", "--out-dir", str(tmp_path / "x"),
                                      "--counterfactual", "--model-uri", "models:/innoscore-pd@challenger"])
    assert result.exit_code == 2 and "exactly one of --target-grade" in result.output


@pytest.mark.slow
def test_on_a_banks_ratios_advice_stays_in_the_band_and_leaves_undirected_indicators_alone():
    """Polish firms' 64 ratios (configs/examples): no indicator without a feasible direction moves
    (non-monotone ones declare none), every moved value is within its band and maximum change, and
    the sentence shows the value that was scored."""
    from sklearn.model_selection import train_test_split

    from innoscore.features.catalogue import load_catalogue
    from innoscore.features.validation import read_table
    from innoscore.model.explanation.reasons import format_value
    from innoscore.paths import CONFIG_DIR

    folder = CONFIG_DIR / "examples" / "polish_bankruptcy"
    cat = load_catalogue(folder / "catalogue.yaml")
    rows, _ = validate_frame(read_table(folder / "polish_bankruptcy_year5.csv"), cat, require_target=True)
    y = rows["class"].to_numpy().astype(int)
    fit, held = train_test_split(np.arange(len(rows)), test_size=0.3, stratify=y, random_state=0)
    est = LightGBMPD(cat, params={"num_leaves": 15, "min_child_samples": 20}, seed=0)
    est.fit(rows.iloc[fit], y[fit], eval_set=(rows.iloc[held], y[held]))
    scale = TrainingConfig.load().grade_scale
    p = est.predict_pd(rows.iloc[fit])
    model = ScoringModel(est, cat, scale, "lightgbm", ReferenceProfile.build(
        FeatureSet(cat).indicator_values(rows.iloc[fit]), p, scale.assign(p), scale.labels))
    firms = rows.iloc[held].reset_index(drop=True)
    p_held = model.predict_pd(firms)
    search = CounterfactualSearch(model)
    found = search.explain(firms[(p_held > 0.05) & (p_held < 0.3)].head(10), Target(grade="BB"))
    moves = [(cf, c) for cf in found for a in cf.alternatives for c in a.moved]
    assert sum(cf.status == "found" for cf in found) >= 6 and moves
    quantiles = model.peer_quantiles
    for cf, c in moves:
        ind = cat.by_id[c.indicator]
        assert ind.feasible_direction is not None and not (ind.direction.value == "non_monotone"
                                                            and ind.action.direction is None)
        q = quantiles[ind.id]
        far = 1.0 * max(abs(c.from_), float(q.iloc[90] - q.iloc[10]))
        assert max(q.iloc[5], c.from_ - far) - 1e-9 <= c.to <= min(q.iloc[95], c.from_ + far) + 1e-9
        assert format_value(ind, c.to, "en") in cf.alternatives[0].text_en or any(
            format_value(ind, c.to, "en") in a.text_en for a in cf.alternatives)


def test_scored_records_have_the_same_types_at_any_size(models, catalogue):
    """Issue #28: labels and list columns changed type with the number of rows (Python objects up to
    512, categoricals and Arrow lists above), so the MLflow pyfunc's output dtypes did too. Now a frame
    of one firm and one of 600 have the same dtypes; only a reply asks for Python objects, with the
    same values."""
    from innoscore.model.decision.policy import load_policy
    from innoscore.model.scoring.record import record_arrays, record_dicts
    from innoscore.model.scoring.score import score_frame

    policy = load_policy(catalogue=catalogue)
    rows, _ = validate_frame(generate_portfolio(600, seed=23, catalogue=catalogue).data, catalogue)
    model = models["lightgbm"]
    one = score_frame(rows.head(1), model, validate=False, with_explanations=True, policy=policy)
    many = score_frame(rows, model, validate=False, with_explanations=True, policy=policy)
    assert one.dtypes.to_dict() == many.dtypes.to_dict()
    assert isinstance(many["grade"].dtype, pd.CategoricalDtype) and "list" in str(many["missing_indicators"].dtype)
    scores = model.score(rows.head(3), True)
    as_python = record_dicts(record_arrays(rows.head(3), scores, model, policy=policy, python_objects=True))
    as_frame = score_frame(rows.head(3), model, validate=False, with_explanations=True, policy=policy)
    for firm, (_, row) in zip(as_python, as_frame.iterrows()):
        assert isinstance(firm["grade"], str) and isinstance(firm["decision_reasons"], list)
        assert firm["grade"] == row["grade"] and firm["decision_reasons"] == list(row["decision_reasons"])
        assert firm["missing_indicators"] == list(row["missing_indicators"])
