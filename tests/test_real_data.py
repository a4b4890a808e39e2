"""A bank's own data: the two real examples from their raw files with only their catalogues, and the
pieces that make that work (splits, target coding, optional fields, monotone policy, reasons text)."""
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from innoscore.cli import app
from innoscore.features.catalogue import Catalogue, load_catalogue
from innoscore.features.validation import read_table, validate_frame
from innoscore.model.config import TrainingConfig
from innoscore.model.estimators.monotone import monotone_report
from innoscore.model.evaluation.metrics import auc_ci
from innoscore.model.evaluation.split import SplitError, choose_split, column_split, cv_split, random_split
from innoscore.model.explanation.reasons import peer_shares, reason
from innoscore.paths import CONFIG_DIR

EXAMPLES = {"german_credit": ("german_credit.csv", "cv", "german-credit"),
            "credit_data": ("credit_data.csv", "random", "credit-data"),
            "polish_bankruptcy": ("polish_bankruptcy_year5.csv", "random", "polish-firms")}
runner = CliRunner()


def _example(name):
    folder = CONFIG_DIR / "examples" / name
    return folder / EXAMPLES[name][0], folder / "catalogue.yaml"


# --- fast: the pieces -------------------------------------------------------------------------------

def _minimal_catalogue(**dataset) -> Catalogue:
    return Catalogue.model_validate({
        "version": "t", "name_en": "minimal", "dataset": {"target_column": "y", **dataset},
        "categories": [{"id": "A", "name_en": "All"}],
        "indicators": [{"id": "x", "name_en": "X", "category": "A", "type": "numeric", "direction": "higher_worse"},
                       {"id": "z", "name_en": "Z", "category": "A", "type": "numeric", "direction": "higher_worse"},
                       {"id": "colour", "name_en": "Colour", "category": "A", "type": "categorical",
                        "levels": [{"value": "r", "en": "red"}, {"value": "g", "en": "green"}]}]})


def test_a_minimal_catalogue_needs_no_id_date_chinese_or_points():
    cat = _minimal_catalogue()
    assert cat.dataset.id_column is None and cat.dataset.firm_id_column == "row_number"
    assert cat.by_id["x"].name_zh == "X" and cat.categories[0].points == 0 and not cat.has_expert_points
    rows, report = validate_frame(pd.DataFrame({"x": [1.0, 2.0], "z": [0.0, 1.0], "colour": ["r", "g"], "y": [1, 0]}),
                                  cat, require_target=True)
    assert report.ok and rows["row_number"].tolist() == ["1", "2"]


def test_target_coding_errors_are_named_by_validate(tmp_path):
    cat_path = tmp_path / "catalogue.yaml"
    import yaml

    cat_path.write_text(yaml.safe_dump(_minimal_catalogue(target_bad_values=["bad"], target_good_values=["good"])
                                       .model_dump(mode="json")), encoding="utf-8")
    data = tmp_path / "d.csv"
    pd.DataFrame({"x": [1, 2, 3], "z": [0, 1, 2], "colour": ["r", "g", "r"], "y": ["good", "bad", "maybe"]}).to_csv(
        data, index=False)
    result = runner.invoke(app, ["validate", "--data", str(data), "--catalogue", str(cat_path)])
    assert result.exit_code == 2
    assert "row 3 · column y · target value is neither bad nor good" in result.output and "maybe" in result.output
    coded, report = validate_frame(pd.read_csv(data).head(2), load_catalogue(cat_path), require_target=True)
    assert report.ok and coded["y"].tolist() == [0.0, 1.0]


def test_a_missing_column_suggests_the_nearest_name():
    cat = _minimal_catalogue()
    _, report = validate_frame(pd.DataFrame({"x": [1.0], "zz": [2.0], "colour": ["r"]}), cat)
    assert any("missing required column (did you mean 'zz'?)" in p.message_en for p in report.problems)


def test_splits_of_every_kind():
    rng = np.random.default_rng(0)
    y = (rng.random(1000) < 0.3).astype(int)
    r = random_split(y, seed=1)
    assert (r.train ^ r.valid ^ r.test).all() and r.test.sum() == 200
    assert abs(y[r.test].mean() - y.mean()) < 0.01            # stratified
    assert np.array_equal(random_split(y, seed=1).test, r.test)  # seeded
    cv = cv_split(y, seed=1, k=5)
    assert sorted(np.bincount(cv.folds)) == [200] * 5 and cv.test.all()
    data = pd.DataFrame({"part": ["train"] * 600 + ["valid"] * 200 + ["Test"] * 200})
    cat = _minimal_catalogue(split_column="part")
    c = column_split(data, cat)
    assert (c.train.sum(), c.valid.sum(), c.test.sum()) == (600, 200, 200)
    with pytest.raises(SplitError, match="values"):
        column_split(data.assign(part="holdout"), cat)
    assert choose_split(data, cat, y).kind == "column"
    assert choose_split(pd.DataFrame(index=range(1000)), _minimal_catalogue(), y).kind == "cv"
    assert choose_split(pd.DataFrame(index=range(1000)), _minimal_catalogue(), y, cv_below_rows=500).kind == "random"
    summary = r.summary(y)
    assert summary["kind"] == "random" and summary["bad_test"] == int(y[r.test].sum())


def test_auc_interval_holds_the_auc_and_narrows_with_data():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 4000)
    p = y * 0.4 + rng.random(4000)
    small, large = auc_ci(y[:400], p[:400]), auc_ci(y, p)
    assert small[0] < large[0] < large[1] < small[1]


def test_monotone_policy_follows_what_the_data_supports():
    rng = np.random.default_rng(2)
    n = 3000
    x, z = rng.normal(size=n), rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-1 + x - z)))).astype(int)   # x: higher worse; z: higher better
    cat = _minimal_catalogue()                                         # both declared higher_worse
    values = pd.DataFrame({"x": x, "z": z, "colour": np.nan})
    supported = monotone_report(values, pd.DataFrame(index=values.index), y, cat, "supported")
    assert supported.loc["x", "applied"] and supported.loc["x", "data_trend"] == "higher_worse"
    assert not supported.loc["z", "applied"] and supported.loc["z", "contradicts"]
    enforced = monotone_report(values, pd.DataFrame(index=values.index), y, cat, "enforce")
    assert enforced.loc[["x", "z"], "applied"].all()
    assert not monotone_report(values, pd.DataFrame(index=values.index), y, cat, "off")["applied"].any()


def test_a_trend_that_bends_back_in_its_tail_is_not_constrained():
    """Issue #25: Spearman's sign alone constrained ratios that bend in their tails (11 of 51 Polish
    ratios); the shape test over deciles leaves them free and keeps the straight ones."""
    rng = np.random.default_rng(4)
    n = 6000
    x, z = rng.normal(size=n), rng.normal(size=n)
    bent = np.where(x < 1.0, -2.5 + 1.2 * x, -4.0)              # risk rises, then falls for the top sixth
    y = (rng.random(n) < 1 / (1 + np.exp(-(bent + 0.8 * z)))).astype(int)
    report = monotone_report(pd.DataFrame({"x": x, "z": z, "colour": np.nan}), pd.DataFrame(index=range(n)), y,
                             _minimal_catalogue(), "supported")
    assert report.loc["x", "data_trend"] == "higher_worse" and report.loc["x", "spearman"] > 0   # a trend ...
    assert report.loc["x", "shape_p_value"] < 0.05 and not report.loc["x", "applied"]          # ... not a shape
    assert report.loc["z", "applied"] and report.loc["z", "shape_p_value"] >= 0.05


def test_tied_percentiles_use_the_shares_strictly_below_and_above():
    quantiles = pd.Series(np.r_[np.zeros(39), np.linspace(0.01, 1, 62)])    # 38% of peers exactly 0
    below, above = peer_shares(0.0, quantiles)
    assert below == 0 and above == pytest.approx(62)
    cat = load_catalogue()
    ind = cat.by_id["debt_ratio"]
    r = reason(ind, 0.0, 0.3, pd.DataFrame({"debt_ratio": quantiles}), cat)
    assert "lower than 62% of peers" in r["text_en"] and "低于62%的同业" in r["text_zh"]


def test_reasons_show_categorical_levels_by_their_labels():
    cat = _minimal_catalogue()
    r = reason(cat.by_id["colour"], "g", 0.4, pd.DataFrame({"colour": np.zeros(101)}), cat)
    assert r["text_en"] == "Colour is green; raises default risk (+0.40)" and r["percentile"] is None


# --- slow: the examples end to end ------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXAMPLES))
def test_the_examples_train_explain_and_score_from_their_raw_files(name, tmp_path, monkeypatch):
    data, catalogue = _example(name)
    _, split_kind, family = EXAMPLES[name]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    metrics = tmp_path / "m.json"
    result = runner.invoke(app, ["train", "--data", str(data), "--catalogue", str(catalogue), "--metrics-out",
                                 str(metrics), "--experiment", name])
    assert result.exit_code == 0, result.output
    m = json.loads(metrics.read_text())
    assert m["split"]["kind"] == split_kind and m["split"]["bad_test"] > 0
    assert set(m["models"]) == {"woe_scorecard", "lightgbm"} and "expert_scorecard" in m["skipped"]
    assert "skipped / 未训练 expert_scorecard" in result.output
    assert len(m["models"]["lightgbm"]["test"]["auc_ci"]) == 2 and "price_in_test_auc" in m["monotonicity"]
    assert {"plain_lightgbm", "logistic_one_hot"} <= set(m["baselines"]["test_auc"])
    assert "LightGBM minus plain LightGBM" in " ".join(result.output.split())     # the console wraps lines
    # Issue #25 item 4: what a validator sees in MLflow.
    import mlflow

    experiment = mlflow.get_experiment_by_name(name)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    parent = mlflow.search_runs([experiment.experiment_id], "tags.role = 'parent'", output_format="list")[0]
    assert parent.data.metrics["baseline.plain_lightgbm.test_auc"] == pytest.approx(
        m["baselines"]["test_auc"]["plain_lightgbm"])
    (dataset,) = [d.dataset for d in parent.inputs.dataset_inputs]
    assert dataset.name == data.name and str(data.resolve()) in dataset.source and dataset.digest
    assert json.loads(dataset.profile)["num_rows"] == len(read_table(data))
    uri = f"models:/{family}-pd@challenger"
    report = tmp_path / "r.html"
    result = runner.invoke(app, ["explain", "--data", str(data), "--firm-id", "5", "--out", str(report), "--lang",
                                 "en", "--model-uri", uri])
    assert result.exit_code == 0, result.output
    page = report.read_text(encoding="utf-8")
    n_categories = len(load_catalogue(catalogue).categories)
    assert "Row number (the data has no id column)" in page and f"The {n_categories} categories" in page
    out = tmp_path / "scores.parquet"
    result = runner.invoke(app, ["score", "--data", str(data), "--out", str(out), "--explain", "--model-uri", uri])
    assert result.exit_code == 0, result.output
    scores = pd.read_parquet(out)
    assert scores["row_number"].tolist() == [str(i) for i in range(1, len(read_table(data)) + 1)]
    assert scores["pd"].between(0, 1).all()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXAMPLES))
def test_innoscore_is_at_least_as_accurate_as_plain_models_on_the_same_rows(name):
    from innoscore.model.training import fit_and_evaluate

    data_path, cat_path = _example(name)
    catalogue, config = load_catalogue(cat_path), TrainingConfig.load()
    data, report = validate_frame(read_table(data_path), catalogue, require_target=True)
    result = fit_and_evaluate(data, catalogue, config)
    comparison = result.baselines
    assert comparison["lightgbm_minus_plain_lightgbm"] >= -0.01, comparison
    assert comparison["woe_minus_logistic_one_hot"] >= -0.01, comparison
