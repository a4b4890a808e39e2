"""Explanations: additivity, folding, bilingual reasons, committee reports, fidelity against the truth."""
import dataclasses
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from innoscore.cli import app
from innoscore.features.derive import FeatureSet
from innoscore.features.synthetic import generate_portfolio
from innoscore.model.estimators.lightgbm_pd import LightGBMPD
from innoscore.features.sources import SourceDeviations
from innoscore.model.explanation.contributions import (deviation_shares, explain, feature_contributions,
                                                       fold_to_indicators)
from innoscore.model.explanation.fidelity import best_value_raising, explanation_fidelity
from innoscore.model.explanation.reasons import firm_reasons

runner = CliRunner()
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def fitted(catalogue):
    portfolio = generate_portfolio(20_000, seed=21, catalogue=catalogue)
    d = portfolio.data
    year = d["application_date"].dt.year
    tr, va, te = year <= 2022, year == 2023, year == 2024
    y = d["default_12m"].to_numpy()
    model = LightGBMPD(catalogue, params={"num_leaves": 15, "max_depth": 4, "min_child_samples": 100}, seed=1)
    model.fit(d[tr], y[tr], eval_set=(d[va], y[va]))
    model.peer_quantiles = FeatureSet(catalogue).indicator_values(d[tr]).quantile(np.linspace(0, 1, 101))
    return model, d[te].reset_index(drop=True), portfolio.true_contributions[te.to_numpy()].reset_index(drop=True)


def test_additivity_base_plus_contributions_is_the_raw_output(fitted):
    model, rows, _ = fitted
    expl = explain(model, rows)
    np.testing.assert_allclose(expl.base_value + expl.features.sum(axis=1), model.decision_function(rows), atol=1e-6)
    np.testing.assert_allclose(expl.pd, model.predict_pd(rows), atol=1e-12)


def test_shap_and_lightgbm_pred_contrib_agree(fitted):
    model, rows, _ = fitted
    features = model.features(rows.head(500))
    a, base_a = feature_contributions(model, features, "pred_contrib")
    b, base_b = feature_contributions(model, features, "shap")
    np.testing.assert_allclose(a, b, atol=1e-9)
    assert base_a == pytest.approx(base_b, abs=1e-9)


def test_folding_keeps_the_total(fitted, catalogue):
    model, rows, _ = fitted
    expl = explain(model, rows)
    assert list(expl.indicators.columns) == catalogue.indicator_ids
    assert list(expl.categories.columns) == catalogue.category_ids
    np.testing.assert_allclose(expl.indicators.sum(axis=1), expl.features.sum(axis=1), atol=1e-9)
    np.testing.assert_allclose(expl.categories.sum(axis=1), expl.features.sum(axis=1), atol=1e-9)


def test_a_sub_score_is_handed_to_its_indicators_by_their_own_points(fitted, catalogue):
    """Chain rule: within a category sub-score, an indicator above its training mean takes a
    risk-lowering part; none at its best value is said to raise risk, fixed weights would say so."""
    model, rows, _ = fitted
    expl = explain(model, rows)
    quantiles = model.peer_quantiles
    assert best_value_raising(expl, catalogue, quantiles) == 0
    fixed = fold_to_indicators(expl.per_feature, model.feature_set_, model.derive(rows), None)
    expl = dataclasses.replace(expl, per_indicator=fixed)
    assert best_value_raising(expl, catalogue, quantiles) > 100


def test_deviation_shares_follow_the_chain_rule_and_never_blame_the_best():
    dev = SourceDeviations(np.array([0, 1, 2]), np.array([[-3.0, -1.0, 1.0], [-1.0, 1.05, 0.0], [2.0, 1.0, 0.0]]),
                           -1, room_up=np.array([[4.0, 2.0, 0.0], [2.0, 0.0, 1.0], [0.0, 1.0, 0.0]]),
                           room_down=np.ones((3, 3)))
    shares = deviation_shares(np.array([0.6, 0.3, 0.2]), dev)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    np.testing.assert_allclose(shares[0], [1.0, 1 / 3, -1 / 3])     # well conditioned: d_i / sum(d)
    np.testing.assert_allclose(shares[1], [1.0, 0.0, 0.0])          # cancelling: to the one below its mean
    np.testing.assert_allclose(shares[2], [0.0, 1.0, 0.0])          # none below: to the one short of its best
    # the source at its best points (no room up) never shares a risk-raising contribution
    assert shares[1, 1] == 0 and shares[2, 0] == 0


def test_reasons_name_only_catalogue_indicators_in_both_languages(fitted, catalogue):
    model, rows, _ = fitted
    expl = explain(model, rows.head(50))
    for i in range(50):
        r = firm_reasons(expl, i, catalogue, model.peer_quantiles, top_k=4)
        items = r["risk_raising"] + r["risk_lowering"]
        assert items and len(r["risk_raising"]) <= 4 and len(r["risk_lowering"]) <= 4
        for item in items:
            ind = catalogue.by_id[item["indicator"]]
            assert item["category"] == ind.category
            assert ind.name_zh in item["text_zh"] and CJK.search(item["text_zh"])
            assert ind.name_en in item["text_en"] and not CJK.search(item["text_en"].replace(ind.name_en, ""))
        assert all(x["contribution"] > 0 for x in r["risk_raising"])
        assert all(x["contribution"] < 0 for x in r["risk_lowering"])
        assert sum(c["contribution"] for c in r["categories"]) == pytest.approx(expl.features.iloc[i].sum())


def test_explanations_track_the_true_contributions(fitted, catalogue):
    model, rows, truth = fitted
    expl = explain(model, rows)
    quantiles = model.peer_quantiles
    real = explanation_fidelity(expl, truth, catalogue, quantiles)
    shuffled = explanation_fidelity(expl, truth.sample(frac=1, random_state=0).reset_index(drop=True), catalogue,
                                    quantiles)
    assert real["category_D_correlation"] > 0.7
    assert real["category_spearman_mean"] > shuffled["category_spearman_mean"] + 0.2
    assert real["top_category_match"] > shuffled["top_category_match"] + 0.1
    assert real["sign_agreement_monotone"] > 0.7


@pytest.mark.slow
def test_committee_report_is_self_contained_and_bilingual(trained, tmp_path):
    firm = trained["data"]["firm_id"].iloc[123]
    runner.invoke(app, ["promote", "--name", "innoscore-pd", "--version", "1"])
    for lang in ("zh", "en"):
        out = tmp_path / f"{lang}.html"
        result = runner.invoke(app, ["explain", "--data", str(trained["data_path"]), "--firm-id", firm,
                                     "--lang", lang, "--out", str(out)])
        assert result.exit_code == 0, result.output
        page = out.read_text(encoding="utf-8")
        assert firm in page and "innoscore-pd" in page and "<svg" in page and "@page" in page
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)|<link|<script|@import|url\(|src=", page)
        heading, other = ("主要原因", "Main reasons") if lang == "zh" else ("Main reasons", "主要原因")
        assert heading in page and other not in page


@pytest.mark.slow
def test_meeting_pack_writes_one_page_per_firm_and_an_index(trained, tmp_path):
    subset = trained["data"].head(5).copy()
    subset["firm_id"] = ["a/b", "a_b", "index", "F1", "F-plain"]      # ids that used to share a page or the index
    path = tmp_path / "five.csv"
    subset.to_csv(path, index=False)
    out_dir = tmp_path / "pack"
    result = runner.invoke(app, ["explain", "--data", str(path), "--all", "--out-dir", str(out_dir),
                                 "--model-uri", "models:/innoscore-pd@challenger"])
    assert result.exit_code == 0, result.output
    assert "wrote 5 report(s)" in result.output
    pages = sorted(p.name for p in out_dir.iterdir() if p.name != "index.html")
    assert len(pages) == 5 and {"F1.html", "F-plain.html"} <= set(pages)
    index = (out_dir / "index.html").read_text(encoding="utf-8")
    for page in pages:                                  # the index links each firm to its own page
        firm = next(f for f in subset["firm_id"] if f in (out_dir / page).read_text(encoding="utf-8"))
        assert f'href="{page}"' in index and firm


@pytest.mark.slow
def test_explain_json_out_gives_each_firm_its_explanation_without_a_counterfactual(trained, tmp_path):
    """Issue #26 item 6: `--json-out` worked only with `--counterfactual`; now per firm its PD, grade,
    base, category contributions (with expert points) and reasons with flags, as the batch scores them."""
    import json

    from innoscore.model.scoring.score import score_frame
    from innoscore.model.tracking.registry import load_pd_model

    subset = trained["data"].head(30).copy()
    subset.loc[subset.index[0], "revenue"] = np.nan                       # a missing value, flagged as such
    path = tmp_path / "thirty.parquet"
    subset.to_parquet(path)
    out = tmp_path / "x.json"
    result = runner.invoke(app, ["explain", "--data", str(path), "--all", "--json-out", str(out), "--top-k", "4",
                                 "--model-uri", "models:/innoscore-pd@challenger"])
    assert result.exit_code == 0, result.output
    records = json.loads(out.read_text(encoding="utf-8"))
    model, _ = load_pd_model("models:/innoscore-pd@challenger")
    batch = score_frame(subset, model)
    assert [r["firm_id"] for r in records] == subset["firm_id"].tolist()
    np.testing.assert_allclose([r["pd"] for r in records], batch["pd"], rtol=1e-9)
    assert [r["grade"] for r in records] == batch["grade"].tolist()
    catalogue = model.catalogue
    for r in records:
        assert set(r) == {"firm_id", "pd", "grade", "base_log_odds", "categories", "reasons"}
        assert [c["id"] for c in r["categories"]] == catalogue.category_ids
        assert all(c["expert_points"] is not None for c in r["categories"])
        assert 0 < len(r["reasons"]) <= 8 and all(set(x) == {"indicator", "value", "contribution", "text_zh",
                                                             "text_en", "flags"} for x in r["reasons"])
    flagged = {(x["indicator"], tuple(x["flags"])) for x in records[0]["reasons"]}
    assert all(flags == ("missing",) for ind, flags in flagged if ind == "revenue")
    assert all("missing" not in x["flags"] for r in records[1:] for x in r["reasons"] if x["value"] is not None)
    one = tmp_path / "one.json"
    result = runner.invoke(app, ["explain", "--data", str(path), "--firm-id", subset["firm_id"].iloc[1],
                                 "--json-out", str(one), "--model-uri", "models:/innoscore-pd@challenger"])
    assert result.exit_code == 0 and json.loads(one.read_text(encoding="utf-8"))[0]["firm_id"] == subset["firm_id"].iloc[1]


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["--firm-id", "NO-SUCH-FIRM", "--out", "x.html"], "firm 'NO-SUCH-FIRM' not found"),
    (["--firm-id", "F0000001", "--out", "x.html", "--model-uri", "models:/innoscore-pd@nope"], "does not resolve"),
    (["--firm-id", "F0000001", "--out", "x.html", "--model-uri", "runs:/abc/model"], "must look like"),
    (["--firm-id", "F0000001", "--out", "x.html", "--lang", "fr"], "'fr' is not one of 'zh', 'en'"),
    (["--all"], "--all needs --out-dir DIR or --json-out"),
])
def test_explain_fails_clearly(trained, tmp_path, args, message):
    assert runner.invoke(app, ["promote", "--name", "innoscore-pd", "--version", "1"]).exit_code == 0
    result = runner.invoke(app, ["explain", "--data", str(trained["data_path"]), *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())      # rich wraps its error box
