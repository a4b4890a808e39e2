"""The credit decision: policy files, decisions and limits, the what-if, and the same decision in
HTTP, batch and reports."""
import json

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from innoscore.cli import app
from innoscore.model.decision.decide import decide
from innoscore.model.decision.policy import load_policy, parse_overrides
from innoscore.model.decision.what_if import Portfolio, what_if
from innoscore.model.estimators.expert_scorecard import category_points
from innoscore.model.monitoring.log import read_log
from innoscore.paths import DEFAULT_POLICY
from innoscore.settings import SettingsError

runner = CliRunner()


@pytest.fixture(scope="module")
def policy(catalogue):
    return load_policy(catalogue=catalogue)


def _policy_file(tmp_path, edit):
    raw = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    edit(raw)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda r: r["blend"]["category_weight"].update(E=0.0), "unknown category ['E']"),
    (lambda r: r["blend"].update(model_weight=0.7), "must add up to 1, they add up to 1.1"),
    (lambda r: r["bands"].update(refer_min=80), "bands overlap"),
    (lambda r: r["limits"]["guarantees"]["credit"].update(cap=-5), "limits.guarantees.credit.cap"),
    (lambda r: r.update(knock_out=[]), "unknown key 'knock_out' (did you mean 'knock_outs'?)"),
])
def test_a_bad_policy_is_refused_with_file_key_and_reason(tmp_path, catalogue, edit, message):
    path = _policy_file(tmp_path, edit)
    with pytest.raises(SettingsError) as err:
        load_policy(path, catalogue)
    assert str(path) in str(err.value) and message in str(err.value)


def test_raising_one_share_is_one_number_and_the_weights_still_add_up(policy):
    proposed = policy.with_overrides(parse_overrides(["category_weight.B=0.3"]))
    weights = proposed.blend.category_weight
    assert weights["B"] == 0.3 and proposed.blend.model_weight + sum(weights.values()) == pytest.approx(1)
    assert weights["A"] / weights["C"] == pytest.approx(policy.blend.category_weight["A"] / policy.blend.category_weight["C"])
    assert proposed.fingerprint != policy.fingerprint
    with pytest.raises(SettingsError, match="KEY=NUMBER"):
        parse_overrides(["category_weight.B"])
    with pytest.raises(SettingsError, match="unknown category 'Z'"):
        policy.with_overrides({"category_weight.Z": 0.2})


def test_decisions_follow_knock_outs_bands_and_limits(small_portfolio, catalogue, policy):
    rows = small_portfolio.data.head(400).reset_index(drop=True)
    rows.loc[0, "credit_overdue_24m"] = 5                        # a knock-out
    rows.loc[1, ["credit_overdue_24m", "litigation_enforcement", "admin_penalty_abnormal"]] = [0, 0, 0]
    rows.loc[1, ["loan_amount", "guarantee_type"]] = [900.0, "credit"]
    pds = np.full(len(rows), 0.002)
    pds[2] = 0.5                                                  # above the PD ceiling
    d = decide(pds, category_points(rows, catalogue), rows, catalogue, policy)
    assert d.loc[0, "decision"] == "decline" and policy.knock_outs[0].en in d.loc[0, "decision_reasons"]
    assert d.loc[2, "decision"] == "decline" and any("PD above" in r for r in d.loc[2, "decision_reasons"])
    assert (d.loc[d.decision != "approve", "decision_reasons"].map(len) > 0).all()   # a refer or decline says why
    approved = d[d.decision == "approve"]
    assert (approved["decision_reasons"].map(len) == 0).all()
    assert (d.loc[d.decision == "decline", "limit"] == 0).all()
    assert (approved["limit"] <= rows.loc[approved.index, "loan_amount"] + 1e-9).all()   # never above the request
    caps = approved["guarantee"].astype(str).map(lambda g: policy.limits.guarantees[g].cap)
    assert (approved["limit"] <= caps).all()
    if d.loc[1, "decision"] != "decline":
        assert d.loc[1, "limit"] <= policy.limits.guarantees["credit"].cap
    el = pds[approved.index] * approved["guarantee"].astype(str).map(lambda g: policy.limits.guarantees[g].lgd) * approved["limit"]
    assert (el <= policy.limits.expected_loss_budget + 1e-9).all()
    assert set(d["policy_hash"]) == {policy.fingerprint}


def test_a_knock_out_rule_whose_column_is_absent_is_refused_not_dropped(small_portfolio, catalogue, tmp_path):
    """A rule naming a column the input lacks would silently approve what it declines (issue #24, row 1)."""
    from innoscore.model.decision.policy import PolicyInputError

    path = _policy_file(tmp_path, lambda r: r["knock_outs"].append(
        {"id": "ghost", "column": "no_such_column", "op": ">=", "value": 1, "zh": "幽灵规则", "en": "ghost rule"}))
    ghost = load_policy(path, catalogue)
    rows = small_portfolio.data.head(20).reset_index(drop=True)
    with pytest.raises(PolicyInputError, match="'ghost' reads column 'no_such_column'"):
        decide(np.full(len(rows), 0.002), category_points(rows, catalogue), rows, catalogue, ghost)
    with pytest.raises(PolicyInputError, match="no_such_column"):
        ghost.require_columns(rows.columns, "firms.csv")
    rows["no_such_column"] = 0.0
    assert ghost.require_columns(rows.columns) is ghost


def test_policy_types_are_strict_and_messages_state_the_rule_and_the_value(tmp_path, catalogue, policy):
    """Issue #24 row 14."""
    path = _policy_file(tmp_path, lambda r: r["blend"].update(model_weight="0.6"))
    with pytest.raises(SettingsError, match="blend.model_weight: Input should be a valid number"):
        load_policy(path, catalogue)
    with pytest.raises(SettingsError, match="must be between 0 and 1, got tech_innovation_weight = -0.5"):
        policy.with_overrides({"tech_innovation_weight": -0.5})
    with pytest.raises(SettingsError, match="add up to 1.2, above 1"):
        policy.with_overrides({"model_weight": 0.7, "category_weight.A": 0.5})
    assumed = {a["column"]: a for a in policy.assumptions(["firm_id", "revenue"])}
    assert set(assumed) == {"guarantee_type", "loan_amount"} and "unsecured credit" in assumed["guarantee_type"]["en"]
    assert policy.assumptions(["loan_amount", "guarantee_type", "revenue"]) == []


def test_a_knock_out_that_cannot_be_checked_refers_the_firm_never_approves(small_portfolio, catalogue, policy, tmp_path):
    rows = small_portfolio.data.head(50).reset_index(drop=True)
    rows[["credit_overdue_24m", "litigation_enforcement", "admin_penalty_abnormal"]] = 0.0
    rows.loc[0, "credit_overdue_24m"] = np.nan           # unknown: the rule cannot be checked
    rows.loc[1, "admin_penalty_abnormal"] = np.nan       # the catalogue says missing means zero: checked as 0
    pds = np.full(len(rows), 1e-4)                       # all safe enough to approve on the score
    points = category_points(rows, catalogue)
    d = decide(pds, points, rows, catalogue, policy)
    assert d.loc[0, "decision"] == "refer" and d.loc[0, "limit"] > 0
    assert d.loc[0, "decision_reasons"] == [f"{policy.knock_outs[0].en}: not checked, credit_overdue_24m missing"]
    assert "credit_overdue_24m缺失" in d.loc[0, "decision_reasons_zh"][0]
    approved_on_score = decide(pds, points, rows.fillna({"credit_overdue_24m": 0}), catalogue, policy)
    assert (approved_on_score.loc[1:, "decision"] == d.loc[1:, "decision"]).all()
    assert d.loc[1, "decision"] == approved_on_score.loc[1, "decision"]
    not_equal = load_policy(_policy_file(tmp_path, lambda r: r.update(knock_outs=[
        {"id": "any_overdue", "column": "credit_overdue_24m", "op": "!=", "value": 0, "zh": "有逾期", "en": "overdue"}])),
        catalogue)
    assert decide(pds, points, rows, catalogue, not_equal).loc[0, "decision"] == "refer"    # NaN != 0 is unknown
    rows.loc[0, "litigation_enforcement"] = 9            # a rule that holds declines, whatever is unchecked
    declined = decide(pds, points, rows, catalogue, policy)
    assert declined.loc[0, "decision"] == "decline" and declined.loc[0, "decision_reasons"] == [policy.knock_outs[1].en]


@pytest.mark.slow
def test_what_if_from_model_pd_tracks_the_true_pd_and_the_swap_set_adds_up(trained, catalogue, policy, tmp_path):
    from innoscore.model.tracking.registry import load_pd_model

    model, _ = load_pd_model("models:/innoscore-pd@challenger")
    data = trained["data"]
    rows = data[data["application_date"].dt.year == 2024].reset_index(drop=True)
    scores = model.score(rows)
    portfolio = Portfolio(scores.pd, scores.expert, rows, rows["default_12m"].to_numpy(float),
                          rows["true_pd"].to_numpy(float))
    result = what_if(portfolio, catalogue, policy, policy.with_overrides({"tech_innovation_weight": 0.4}), steps=10)
    for side in ("current", "proposed"):
        book = result[side]
        # The approved book's default rate from model PD is within 25% (relative) of the true PD's.
        assert book["expected_default_rate"] == pytest.approx(book["true_default_rate"], rel=0.25)
    swap = result["swap_set"]
    assert sum(c["count"] for c in swap.values()) == len(rows)
    assert swap["both"]["count"] + swap["only_current"]["count"] == result["current"]["n_approved"]
    assert swap["both"]["count"] + swap["only_proposed"]["count"] == result["proposed"]["n_approved"]
    assert len(result["sweep"]) == 11 and result["sweep"][0]["tech_innovation_weight"] == 0


def test_the_firms_the_past_policy_declined_are_a_segment_of_the_what_if(trained, catalogue, policy):
    from innoscore.features.history import HistoryPolicy, booked
    from innoscore.model.tracking.registry import load_pd_model

    model, _ = load_pd_model("models:/innoscore-pd@challenger")
    data = trained["data"]
    rows = data[data["application_date"].dt.year == 2024].reset_index(drop=True)
    scores = model.score(rows)
    declined = ~booked(rows, catalogue, HistoryPolicy.load())
    outcome = np.where(declined, np.nan, rows["default_12m"].to_numpy(float))      # never seen where declined
    portfolio = Portfolio(scores.pd, scores.expert, rows, outcome, rows["true_pd"].to_numpy(float), declined)
    result = what_if(portfolio, catalogue, policy, policy.with_overrides({"tech_innovation_weight": 0.4}), steps=2)
    seg = result["previously_declined"]
    assert seg["count"] == declined.sum() and seg["share"] == pytest.approx(declined.mean())
    assert seg["mean_pd"] == pytest.approx(scores.pd[declined].mean())
    assert seg["true_pd"] == pytest.approx(rows.loc[declined, "true_pd"].mean()) and seg["bad_rate"] is None
    assert sum(c["count"] for c in seg["swap_set"].values()) == seg["count"]
    cells = {k: c["count"] for k, c in seg["swap_set"].items()}
    assert cells["both"] + cells["only_proposed"] == seg["approved_proposed"]
    assert cells["both"] + cells["only_current"] == seg["approved_current"] > 0
    approved = (decide(scores.pd, scores.expert, rows, catalogue, policy)["decision"] == "approve").to_numpy()
    assert result["current"]["observed_default_rate"] == pytest.approx(np.nanmean(outcome[approved]))  # known only
    without = what_if(Portfolio(scores.pd, scores.expert, rows), catalogue, policy, policy, steps=1)
    assert "previously_declined" not in without


@pytest.mark.slow
def test_the_what_if_command_writes_html_and_json(trained, tmp_path):
    data = tmp_path / "book.parquet"
    trained["data"].tail(3000).to_parquet(data)
    out, js = tmp_path / "w.html", tmp_path / "w.json"
    result = runner.invoke(app, ["policy", "what-if", "--data", str(data), "--set", "category_weight.B=0.3",
                                 "--out", str(out), "--json-out", str(js), "--model-uri",
                                 "models:/innoscore-pd@challenger", "--steps", "5", "--log-mlflow"])
    assert result.exit_code == 0, result.output
    doc = json.loads(js.read_text(encoding="utf-8"))
    for side in ("current", "proposed"):
        assert {"approval_rate", "expected_default_rate", "expected_loss"} <= set(doc[side])
    assert set(doc["swap_set"]) == {"both", "only_proposed", "only_current", "neither"}
    page = out.read_text(encoding="utf-8")
    assert "审批结果迁移" in page and "Swap set" in page and page.count("data:image/png;base64") == 3
    assert "FTP discount sweep" in page and "RAROC" in page
    assert "previously_declined" not in doc and doc["model"]["reject_inference"] == {"method": "none", "n_declined": 0}
    assert "had no declined applicants" in page and "训练数据中没有被拒申请企业" in page
    # a book that says which firms the bank declined before: their segment, outcomes unknown
    book = trained["data"].tail(3000).reset_index(drop=True)
    book["booked"] = np.arange(len(book)) % 3 != 0
    book.loc[~book["booked"], "default_12m"] = np.nan
    book.to_parquet(data)
    result = runner.invoke(app, ["policy", "what-if", "--data", str(data), "--out", str(out), "--json-out", str(js),
                                 "--model-uri", "models:/innoscore-pd@challenger", "--steps", "2"])
    assert result.exit_code == 0, result.output
    seg = json.loads(js.read_text(encoding="utf-8"))["previously_declined"]
    assert seg["count"] == 1000 and seg["bad_rate"] is None and seg["true_pd"] > 0
    assert "以往政策拒绝的企业" in out.read_text(encoding="utf-8") and "declined by the past policy" in result.output
    book["booked"] = "perhaps"
    book.to_parquet(data)
    result = runner.invoke(app, ["policy", "what-if", "--data", str(data), "--model-uri", "models:/innoscore-pd@challenger"])
    assert result.exit_code != 0 and "'booked' must hold true/false" in result.output
    bad = runner.invoke(app, ["policy", "what-if", "--data", str(data), "--set", "category_weight.Q=0.3",
                              "--model-uri", "models:/innoscore-pd@challenger"])
    assert bad.exit_code == 2 and "unknown category 'Q'" in bad.output


@pytest.mark.slow
def test_batch_and_reports_decide_as_the_record_does(trained, catalogue, policy, tmp_path):
    from innoscore.model.scoring.score import score_frame
    from innoscore.model.tracking.registry import load_pd_model

    model, _ = load_pd_model("models:/innoscore-pd@challenger")
    rows = trained["data"].head(300)
    path = tmp_path / "in.parquet"
    rows.to_parquet(path)
    out = tmp_path / "scored.parquet"
    result = runner.invoke(app, ["score", "--data", str(path), "--out", str(out), "--policy", str(DEFAULT_POLICY),
                                 "--model-uri", "models:/innoscore-pd@challenger", "--log-dir", str(tmp_path / "log")])
    assert result.exit_code == 0, result.output
    batch = pd.read_parquet(out)
    expected = score_frame(rows, model, policy=policy)
    assert batch["decision"].tolist() == expected["decision"].tolist()
    logged = pd.concat(read_log(tmp_path / "log")).set_index("firm_id").loc[rows["firm_id"]]   # issue #24 row 8:
    for column in policy.loan_field_types(catalogue):                     # the loan fields that drove each decision
        if column not in rows:                                             # pricing's optional offered rate
            continue
        assert logged[column].astype(rows[column].dtype).tolist() == rows[column].tolist(), column
    assert logged["decision"].tolist() == batch["decision"].tolist()
    np.testing.assert_allclose(batch["limit"], expected["limit"])
    assert {"approve", "refer", "decline"} <= set(batch["decision"])
    firm = batch.loc[batch["decision"] == "decline", "firm_id"].iloc[0]
    report = tmp_path / "r.html"
    result = runner.invoke(app, ["explain", "--data", str(path), "--firm-id", firm, "--out", str(report),
                                 "--policy", str(DEFAULT_POLICY), "--model-uri", "models:/innoscore-pd@challenger"])
    assert result.exit_code == 0, result.output
    page = report.read_text(encoding="utf-8")
    assert "审批建议" in page and "拒绝" in page
    assert all(r in page for r in batch.loc[batch["firm_id"] == firm, "decision_reasons_zh"].iloc[0])


@pytest.mark.slow
def test_batch_what_if_and_report_refuse_a_policy_rule_the_data_cannot_apply(trained, tmp_path):
    ghost = _policy_file(tmp_path, lambda r: r["knock_outs"].append(
        {"id": "ghost", "column": "no_such_column", "op": ">=", "value": 1, "zh": "幽灵规则", "en": "ghost rule"}))
    data = tmp_path / "book.csv"
    trained["data"].head(200).to_csv(data, index=False)
    out = tmp_path / "scored.parquet"
    uri = ["--model-uri", "models:/innoscore-pd@challenger"]
    for args in (["score", "--data", str(data), "--out", str(out), "--policy", str(ghost)],
                 ["policy", "what-if", "--data", str(data), "--policy", str(ghost), "--steps", "2"],
                 ["explain", "--data", str(data), "--firm-id", str(trained["data"]["firm_id"].iloc[0]),
                  "--out", str(tmp_path / "r.html"), "--policy", str(ghost)]):
        result = runner.invoke(app, args + uri)
        assert result.exit_code == 2, result.output
        assert "'ghost' reads column 'no_such_column'" in result.output.replace("\n", "")
    assert not out.exists() and not (tmp_path / "r.html").exists()
