"""The bank's past decisions on a synthetic portfolio, and the training sets of reject inference."""
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from innoscore.cli import app
from innoscore.features.history import BOOKED_COLUMN, OUTCOME_PREFIX, HistoryPolicy, booked, with_history
from innoscore.features.synthetic import generate_portfolio
from innoscore.model.estimators.reject_inference import METHODS, augmented_training_set
from innoscore.model.evaluation.kickout import accepted, kickout


@pytest.fixture(scope="module")
def history(catalogue):
    portfolio = generate_portfolio(5000, seed=8, catalogue=catalogue)
    return portfolio, with_history(portfolio, catalogue, HistoryPolicy.load())


def test_the_past_policy_declines_a_third_and_hides_only_their_outcomes(history, catalogue):
    original, seen = history
    took = seen.data[BOOKED_COLUMN].to_numpy(bool)
    target = catalogue.dataset.target_column
    assert 0.3 <= 1 - took.mean() <= 0.4
    assert seen.data.loc[~took, target].isna().all() and seen.data.loc[took, target].notna().all()
    np.testing.assert_array_equal(seen.true_contributions[OUTCOME_PREFIX], original.data[target])
    assert seen.data.loc[~took, "true_pd"].mean() > 2 * seen.data.loc[took, "true_pd"].mean()
    assert not (seen.data.loc[took, "credit_overdue_24m"] >= 3).any()   # a knock-out declines whatever the points


def test_generate_writes_the_history_and_refuses_a_bad_file(tmp_path, catalogue):
    out = tmp_path / "p.parquet"
    result = CliRunner().invoke(app, ["generate", "--n-firms", "800", "--out", str(out), "--history-policy", "expert"])
    assert result.exit_code == 0, result.output
    data = pd.read_parquet(out)
    assert BOOKED_COLUMN in data and data[catalogue.dataset.target_column].isna().sum() == (~data[BOOKED_COLUMN]).sum()
    assert OUTCOME_PREFIX in pd.read_parquet(tmp_path / "p.truth.parquet")
    bad = tmp_path / "h.yaml"
    bad.write_text("decline_share: 1.5\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["generate", "--n-firms", "50", "--out", str(out), "--history-policy", str(bad)])
    assert result.exit_code != 0 and "decline_share" in result.output


def test_each_method_builds_its_training_set():
    accepts = pd.DataFrame({"x": np.arange(6.0)})
    rejects = pd.DataFrame({"x": np.arange(10.0, 20.0)})
    y = np.array([0, 0, 1, 0, 0, 1], float)
    pd_of = lambda rows: rows["x"].to_numpy() / 40                        # noqa: E731  (0.25-0.475 for rejects)
    booked_p = lambda rows: np.linspace(0.9, 0.1, len(rows))              # noqa: E731
    none = augmented_training_set("none", accepts, y, rejects, pd_of)
    assert len(none.rows) == 6 and (none.weight == 1).all()
    rew = augmented_training_set("reweighting", accepts, y, rejects, pd_of, booked_p)
    assert rew.weight.mean() == pytest.approx(1) and rew.weight[-1] > rew.weight[0]   # rarely booked: weighs more
    fuzzy = augmented_training_set("fuzzy", accepts, y, rejects, pd_of)
    assert len(fuzzy.rows) == 26 and fuzzy.weight[6:16] == pytest.approx(pd_of(rejects))
    assert fuzzy.weight[6:16] + fuzzy.weight[16:] == pytest.approx(np.ones(10)) and fuzzy.y[6:16].all()
    a = augmented_training_set("parcelling", accepts, y, rejects, pd_of, seed=3, parcel_factor=2.0)
    b = augmented_training_set("parcelling", accepts, y, rejects, pd_of, seed=3, parcel_factor=2.0)
    np.testing.assert_array_equal(a.y, b.y)                             # seeded
    sure = augmented_training_set("self_learning", accepts, y, rejects, pd_of, confident_share=0.2)
    assert len(sure.rows) == 6 + 4 and sure.y[6:].tolist() == [0, 0, 1, 1]
    assert set(METHODS) == {"none", "reweighting", "fuzzy", "parcelling", "self_learning"}
    with pytest.raises(ValueError, match="must be one of"):
        augmented_training_set("magic", accepts, y, rejects, pd_of)


def test_kickout_counts_the_known_outcomes_the_new_model_kicks_out():
    outcome = np.array([0, 0, 0, 0, 1, 0, 1, 1, np.nan, np.nan])
    benchmark = np.arange(10) / 10                         # accepts the first 6 at 60%
    np.testing.assert_array_equal(accepted(benchmark, 0.6), np.arange(10) < 6)
    assert kickout(benchmark, benchmark, outcome, 0.6) == 0
    # the new model swaps firm 4 (bad) for firm 8 (unknown): one bad kicked out of S_B = 1
    swapped = benchmark.copy()
    swapped[[4, 8]] = swapped[[8, 4]]
    assert kickout(benchmark, swapped, outcome, 0.6) == pytest.approx(1.0)
    # ... or firm 0 (good) for firm 8: p_B = 3/8, (0 - 1 / (5/8)) / (1 / (3/8)) = -0.6
    good_out = benchmark.copy()
    good_out[[0, 8]] = good_out[[8, 0]]
    assert kickout(benchmark, good_out, outcome, 0.6) == pytest.approx(-0.6)
    assert np.isnan(kickout(benchmark, swapped, np.zeros(10), 0.6))        # no bad firm: undefined
    with pytest.raises(ValueError, match="strictly between"):
        kickout(benchmark, swapped, outcome, 1.0)
    with pytest.raises(ValueError, match="one outcome per applicant"):
        kickout(benchmark, swapped[:5], outcome, 0.5)


def test_training_learns_from_the_declined_with_the_chosen_method(history, catalogue):
    from innoscore.features.validation import validate_frame
    from innoscore.model.config import TrainingConfig
    from innoscore.features.history import declined_applicants
    from innoscore.model.training import fit_and_evaluate

    _, seen = history
    accepts, rejects = declined_applicants(seen.data, catalogue)
    assert len(rejects) == (~seen.data[BOOKED_COLUMN]).sum() and catalogue.dataset.target_column not in rejects
    accepts, _ = validate_frame(accepts, catalogue, require_target=True)
    rejects, _ = validate_frame(rejects, catalogue)
    config = TrainingConfig.load().with_search_trials(0)
    mean_pd = {}
    for method in ("none", "parcelling"):
        result = fit_and_evaluate(accepts, catalogue, config.with_reject_inference(method), rejects=rejects)
        mean_pd[method] = result.models["lightgbm"].predict_pd(rejects).mean()
        ri = result.reject_inference
        assert ri["method"] == method and ri["n_declined"] == len(rejects)
        trained_on = result.models["lightgbm"].reject_inference_
        assert trained_on == {"method": method, "n_declined": ri["n_declined_trained_on"]}
        if method == "none":
            assert "kickout" not in ri and 0 < ri["n_declined_trained_on"] < len(rejects)
        else:      # kickout over the test year's booked and declined applicants, at the booked share
            declined_test = (rejects["application_date"].dt.year == accepts["application_date"].dt.year.max()).sum()
            assert ri["kickout_rows"] == result.split.test.sum() + declined_test
            assert ri["kickout_acceptance_rate"] == pytest.approx(len(accepts) / len(seen.data))
            assert -1 <= ri["kickout"] <= 1 and 0 < ri["n_declined_trained_on"] < len(rejects)
            assert result.metrics_json()["reject_inference"] == ri
    truth = seen.data.loc[~seen.data[BOOKED_COLUMN], "true_pd"].mean()
    assert mean_pd["none"] < mean_pd["parcelling"] and abs(mean_pd["parcelling"] - truth) < abs(mean_pd["none"] - truth)


@pytest.mark.slow
def test_train_command_reports_the_method_and_kickout_everywhere(tmp_path, monkeypatch):
    import json

    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    data, metrics = tmp_path / "h.parquet", tmp_path / "m.json"
    runner = CliRunner()
    assert runner.invoke(app, ["generate", "--n-firms", "4000", "--seed", "5", "--out", str(data),
                               "--history-policy", "expert"]).exit_code == 0
    result = runner.invoke(app, ["train", "--data", str(data), "--reject-inference", "parcelling",
                                 "--metrics-out", str(metrics)])
    assert result.exit_code == 0, result.output
    ri = json.loads(metrics.read_text(encoding="utf-8"))["reject_inference"]
    assert ri["method"] == "parcelling" and ri["n_declined"] == pd.read_parquet(data)[BOOKED_COLUMN].eq(False).sum()
    said = " ".join(result.output.replace("│", " ").split())
    assert f"reject inference / 拒绝推断: parcelling, {ri['n_declined']:,} declined applicants" in said
    assert f"kickout against the accepts-only LightGBM {ri['kickout']:+.3f}" in said
    run = mlflow.search_runs(experiment_names=["innoscore"], filter_string="tags.role = 'parent'",
                             output_format="list")[0]
    assert run.data.metrics["reject_inference_kickout"] == pytest.approx(ri["kickout"])
    assert run.data.params["reject_inference.method"] == "parcelling"
    children = mlflow.search_runs(experiment_names=["innoscore"], filter_string="tags.role = 'model'",
                                  output_format="list")
    cards = {r.data.tags["model_kind"]: mlflow.artifacts.load_text(f"runs:/{r.info.run_id}/model_card.md")
             for r in children}
    assert f"Reject inference by `parcelling` over the {ri['n_declined_trained_on']:,}" in cards["lightgbm"]
    assert "learned from the booked firms alone" in cards["woe_scorecard"]
