"""Training end to end on a real MLflow SQLite store in a temporary directory."""

import mlflow
import numpy as np
import pytest
from typer.testing import CliRunner

from innoscore.cli import app
from innoscore.features.synthetic import generate_portfolio
from innoscore.model.config import TrainingConfig
from innoscore.model.tracking.registry import RegistryError, load_pd_model, resolve
from innoscore.model.training import fit_and_evaluate

runner = CliRunner()
pytestmark = pytest.mark.slow


def test_metrics_json_has_the_promised_shape(trained):
    m = trained["metrics"]
    assert set(m) == {"split", "models", "monotonicity", "baselines", "skipped"}
    base = m["baselines"]                      # the plain models on the same test rows (issue #25)
    assert {"plain_lightgbm", "logistic_one_hot"} <= set(base["test_auc"])
    assert base["lightgbm_minus_plain_lightgbm"] == base["test_auc"]["lightgbm"] - base["test_auc"]["plain_lightgbm"]
    assert m["split"]["kind"] == "time" and m["skipped"] == {}
    assert m["split"]["test_years"] == [2024] and m["split"]["valid_years"] == [2023]
    assert m["split"]["n_test"] > 0 and 0 < m["split"]["bad_test"] < m["split"]["n_test"]
    assert set(m["models"]) == {"expert_scorecard", "woe_scorecard", "lightgbm", "oracle"}
    for model in m["models"].values():
        for window in ("valid", "test"):
            assert {"auc", "auc_ci", "gini", "ks", "brier", "log_loss", "ece"} <= set(model[window])
            assert model[window]["auc_ci"][0] < model[window]["auc"] < model[window]["auc_ci"][1]


def test_lightgbm_beats_both_scorecards_out_of_time(trained):
    test = {k: v["test"] for k, v in trained["metrics"]["models"].items()}
    assert test["lightgbm"]["auc"] > test["woe_scorecard"]["auc"]
    assert test["lightgbm"]["auc"] > test["expert_scorecard"]["auc"]
    assert test["oracle"]["auc"] - test["lightgbm"]["auc"] < 0.04  # 40k firms; the 100k figure is in the benchmark
    assert test["lightgbm"]["ece"] < 0.02


def test_registered_challenger_reloads_with_identical_predictions(trained, catalogue):
    data = trained["data"]
    test_rows = data[data["application_date"].dt.year == 2024].head(500)
    wrapper, version = load_pd_model("models:/innoscore-pd@challenger")
    assert version.name == "innoscore-pd" and "challenger" in version.aliases
    in_process = wrapper.predict_pd(test_rows)
    pyfunc = mlflow.pyfunc.load_model("models:/innoscore-pd@challenger")
    served = pyfunc.predict(test_rows[[catalogue.dataset.firm_id_column, *catalogue.indicator_ids]])
    np.testing.assert_allclose(served["pd"].to_numpy(), in_process, rtol=0, atol=1e-12)
    assert set(served["grade"]) <= set(wrapper.grade_scale.labels)
    assert (served["firm_id"].to_numpy() == test_rows["firm_id"].to_numpy()).all()
    assert version.tags["data_fingerprint"] and version.tags["catalogue_version"] == catalogue.version
    expert = resolve("models:/innoscore-expert-scorecard@challenger")
    assert expert.tags["model_kind"] == "expert_scorecard"


def test_runs_are_logged_with_children_artifacts_and_provenance(trained):
    client = mlflow.tracking.MlflowClient()
    exp = client.get_experiment_by_name("test-exp")
    parent = client.search_runs([exp.experiment_id], "tags.role = 'parent'")[0]
    children = client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert {c.data.tags["model_kind"] for c in children} == {"expert_scorecard", "woe_scorecard", "lightgbm"}
    assert parent.data.tags["git_commit"] and parent.data.tags["data_fingerprint"]
    parent_files = {f.path for f in client.list_artifacts(parent.info.run_id, "config")}
    assert {"config/training.yaml", "config/scorecard.yaml", "config/catalogue.json"} <= parent_files
    lgb_run = next(c for c in children if c.data.tags["model_kind"] == "lightgbm")
    plots = {f.path for f in client.list_artifacts(lgb_run.info.run_id, "plots")}
    assert {"plots/roc.png", "plots/calibration.png", "plots/ks.png", "plots/score_distribution.png"} <= plots
    assert "test_auc" in lgb_run.data.metrics and "valid_ece" in lgb_run.data.metrics
    assert "fidelity_category_spearman_mean" in lgb_run.data.metrics
    explanations = {f.path for f in client.list_artifacts(lgb_run.info.run_id, "explanations")}
    assert {"explanations/shap_beeswarm.png", "explanations/category_importance.png"} <= explanations
    card = mlflow.artifacts.load_text(f"runs:/{lgb_run.info.run_id}/model_card.md")
    assert "Intended use" in card and "innoscore-pd v1" in card and "| test |" in card


def test_compare_prints_the_stored_table(trained):
    result = runner.invoke(app, ["compare", "--experiment", "test-exp"])
    assert result.exit_code == 0, result.output
    auc = trained["metrics"]["models"]["lightgbm"]["test"]["auc"]
    assert "lightgbm" in result.output and f"{auc:.4f}" in result.output


def test_promote_moves_champion_and_refuses_unknown_versions(trained):
    result = runner.invoke(app, ["promote", "--name", "innoscore-pd", "--version", "1"])
    assert result.exit_code == 0, result.output
    assert resolve("models:/innoscore-pd@champion").version == "1"
    bad = runner.invoke(app, ["promote", "--name", "innoscore-pd", "--version", "99"])
    assert bad.exit_code == 2 and "no version 99" in bad.output
    with pytest.raises(RegistryError, match="does not resolve"):
        resolve("models:/no-such-model@champion")


def test_training_refuses_invalid_data(trained, tmp_path):
    bad = trained["data"].head(3000).copy()
    bad.loc[5, "debt_ratio"] = -4.0
    path = tmp_path / "bad.parquet"
    bad.to_parquet(path)
    result = runner.invoke(app, ["train", "--data", str(path), "--experiment", "test-exp"])
    assert result.exit_code == 2
    assert "debt_ratio" in result.output and "out of range" in result.output


def test_same_seed_and_data_give_identical_metrics(catalogue):
    data = generate_portfolio(8000, seed=9, catalogue=catalogue).data
    cfg = TrainingConfig.load()
    cfg = cfg.with_search_trials(2)
    first = fit_and_evaluate(data, catalogue, cfg).metrics
    second = fit_and_evaluate(data, catalogue, cfg).metrics
    assert first == second


def test_test_year_outcomes_never_touch_fitting(catalogue):
    data = generate_portfolio(8000, seed=10, catalogue=catalogue).data
    cfg = TrainingConfig.load()
    cfg = cfg.with_search_trials(1)
    flipped = data.copy()
    test = flipped["application_date"].dt.year == 2024
    flipped.loc[test, "default_12m"] = 1 - flipped.loc[test, "default_12m"]
    a, b = fit_and_evaluate(data, catalogue, cfg), fit_and_evaluate(flipped, catalogue, cfg)
    for name in ("expert_scorecard", "woe_scorecard", "lightgbm"):
        np.testing.assert_array_equal(a.pds[name]["test"], b.pds[name]["test"])
