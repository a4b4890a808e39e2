"""The BentoML service as a loan-origination system meets it: a real `bentoml serve` on 127.0.0.1."""
import json
import os
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from innoscore.model.explanation.reasons import firm_reasons
from innoscore.model.scoring.score import score_frame
from innoscore.model.tracking.registry import load_pd_model
from tests.conftest import free_port, running_service

pytestmark = pytest.mark.slow
API_KEY = "test-key-123"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
SECRET_FIRM = "SECRET-FIRM-7781"


@pytest.fixture(scope="module")
def server(_trained_session, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bento")
    port = free_port()
    log = tmp / "server.log"
    env = {**os.environ, "MLFLOW_TRACKING_URI": _trained_session["uri"], "BENTOML_HOME": str(tmp / "home"),
           "INNOSCORE_API_KEY": API_KEY, "BENTOML_DO_NOT_TRACK": "true"}
    innoscore = Path(sys.executable).with_name("innoscore")
    command = [str(innoscore), "serve", "--model-uri", "models:/innoscore-pd@challenger", "--port", str(port)]
    with running_service(command, env, log, port) as base:
        yield {"base": base, "log": log, "client": httpx.Client(base_url=base, headers=AUTH, timeout=60)}


@pytest.fixture(scope="module")
def firms(_trained_session, catalogue):
    data = _trained_session["data"]
    rows = data[data["application_date"].dt.year == 2024].head(25)
    return rows, json.loads(rows[["firm_id", *catalogue.indicator_ids]].to_json(orient="records"))


@pytest.fixture(scope="module")
def in_process(_trained_session):
    os.environ["MLFLOW_TRACKING_URI"] = _trained_session["uri"]
    from innoscore.model.tracking.store import configure_mlflow

    configure_mlflow()
    wrapper, _ = load_pd_model("models:/innoscore-pd@challenger")
    return wrapper


def test_score_equals_in_process(server, firms, in_process):
    rows, payload = firms
    reply = server["client"].post("/score", json={"firms": payload})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["model"]["name"] == "innoscore-pd" and body["model"]["version"] == "1"
    expected = score_frame(rows, in_process)
    got = {r["firm_id"]: r for r in body["results"]}
    for _, e in expected.iterrows():
        assert got[e["firm_id"]]["pd"] == pytest.approx(e["pd"], abs=1e-12)
        assert got[e["firm_id"]]["grade"] == e["grade"]
    first = body["results"][0]
    assert sorted(first["missing_indicators"]) == sorted(rows.iloc[0][in_process.catalogue.indicator_ids]
                                                         .index[rows.iloc[0][in_process.catalogue.indicator_ids].isna()])
    assert set(first["expert_score"]["categories"]) == {"A", "B", "C", "D"}


def test_explain_equals_in_process(server, firms, in_process):
    rows, payload = firms
    reply = server["client"].post("/explain", json={"firms": payload[:3], "top_k": 3, "lang": "en"})
    assert reply.status_code == 200, reply.text
    expl = in_process.explain(rows.head(3).reset_index(drop=True))
    for i, result in enumerate(reply.json()["results"]):
        r = firm_reasons(expl, i, in_process.catalogue, in_process.peer_quantiles, 3)
        assert [x["indicator"] for x in result["risk_raising"]] == [x["indicator"] for x in r["risk_raising"]]
        assert [x["text"] for x in result["risk_lowering"]] == [x["text_en"] for x in r["risk_lowering"]]
        assert result["raw_log_odds"] == pytest.approx(expl.raw_log_odds[i], abs=1e-9)
        assert sum(c["contribution"] for c in result["categories"]) == pytest.approx(
            result["raw_log_odds"] - result["base_log_odds"], abs=1e-9)
    zh = server["client"].post("/explain", json={"firms": payload[:1], "lang": "zh"}).json()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh["results"][0]["risk_raising"][0]["text"])


def test_model_info_and_health(server):
    info = server["client"].post("/model_info", json={}).json()
    assert info["model"]["name"] == "innoscore-pd" and info["data_fingerprint"] != "unknown"
    assert 0.5 < info["test_metrics"]["auc"] < 1
    for probe in ("/healthz", "/livez", "/readyz"):
        assert httpx.get(server["base"] + probe).status_code == 200


def test_api_key_is_required_except_for_probes(server, firms):
    _, payload = firms
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        reply = httpx.post(server["base"] + "/score", json={"firms": payload[:1]}, headers=headers)
        assert reply.status_code == 401 and "API key" in reply.json()["error"]


def _bad(payload, **changes):
    firm = dict(payload[0])
    firm.update(changes)
    return [firm]


@pytest.mark.parametrize("make, status, field, text", [
    (lambda p: _bad(p, debt_ratio=9.5), 422, "debt_ratio", "out of range"),
    (lambda p: _bad(p, revenue="lots"), 422, "revenue", "not a number"),
    (lambda p: _bad(p, tax_credit_grade=7), 422, "tax_credit_grade", "unknown level"),
    (lambda p: _bad(p, invention_patents=2.5), 422, "invention_patents", "whole number"),
    (lambda p: _bad(p, debt_ration=0.5), 422, "debt_ration", "not an indicator"),
    (lambda p: _bad(p, firm_id=None), 422, "firm_id", "firm id is required"),
    (lambda p: [p[0], p[0]], 422, "firm_id", "duplicate firm id"),
    (lambda p: [], 422, None, "no firms"),
    (lambda p: p[:1] * 501, 413, None, "maximum is 500"),
])
def test_bad_input_gets_4xx_naming_firm_field_and_problem(server, firms, make, status, field, text):
    _, payload = firms
    for endpoint in ("/score", "/explain"):
        reply = server["client"].post(endpoint, json={"firms": make(payload)})
        assert reply.status_code == status, reply.text
        body = reply.json()
        if field is None:
            assert text in body["error"]
            continue
        problem = next(p for p in body["problems"] if p["field"] == field)
        assert text in problem["message"] and problem["message_zh"]
        if field != "firm_id" or "duplicate" in text:
            assert problem["firm_id"] == payload[0]["firm_id"]


@pytest.mark.parametrize("body, status", [
    (b"{not json", 400), (b'{"firms": "x"}', 400), (b'{"firms": [], "top_k": 0}', 400),
    (b'{"firms": [{"firm_id": "F1"}], "lang": "fr"}', 400),
])
def test_malformed_requests_get_400(server, body, status):
    reply = server["client"].post("/explain", content=body, headers={"content-type": "application/json"})
    assert reply.status_code == status


def test_firm_data_never_reaches_the_log(server, firms):
    _, payload = firms
    server["client"].post("/score", json={"firms": _bad(payload, firm_id=SECRET_FIRM, debt_ratio=987654.25)})
    server["client"].post("/score", json={"firms": _bad(payload, firm_id=SECRET_FIRM)})
    time.sleep(0.5)
    log = server["log"].read_text(errors="replace")
    assert SECRET_FIRM not in log and "987654" not in log


def test_concurrent_load_has_no_errors(server, firms):
    _, payload = firms
    errors, done = [], []
    stop = time.time() + 10

    def client(k):
        with httpx.Client(base_url=server["base"], headers=AUTH, timeout=30) as c:
            while time.time() < stop:
                r = c.post("/score", json={"firms": [payload[k % len(payload)]]})
                (done if r.status_code == 200 else errors).append(r.status_code)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(20)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors and len(done) > 50


FUZZED_PATHS = ("/score", "/explain", "/model_info")


def test_openapi_fuzz_finds_no_server_error(server):
    """schemathesis generates requests from the service's own OpenAPI document; none may get a 5xx."""
    spec = httpx.get(server["base"] + "/docs.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    examples = int(os.environ.get("INNOSCORE_FUZZ_EXAMPLES", "200"))
    fuzzed = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path not in FUZZED_PATHS:
            continue
        fuzzed.append(operation.path)

        @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(operation.as_strategy())
        def check(case):
            response = case.call(base_url=server["base"], headers=AUTH)
            assert response.status_code < 500, (case.path, response.status_code, response.text[:300])
            if response.status_code == 200:
                assert "NaN" not in response.text

        check()
    assert sorted(fuzzed) == sorted(FUZZED_PATHS)


def test_score_decides_as_batch_and_reports_do(server, firms, in_process):
    """The /score decision block equals the record's decision in process (the one used by batch and reports)."""
    from innoscore.model.decision.policy import load_policy

    rows, payload = firms
    with_loans = [{**p, "loan_amount": float(r.loan_amount), "guarantee_type": r.guarantee_type}
                  for p, r in zip(payload, rows.itertuples())]
    reply = server["client"].post("/score", json={"firms": with_loans})
    assert reply.status_code == 200, reply.text
    expected = score_frame(rows, in_process, policy=load_policy(catalogue=in_process.catalogue))
    for got, (_, e) in zip(reply.json()["results"], expected.iterrows()):
        d = got["decision"]
        assert (d["decision"], d["guarantee"]) == (e["decision"], e["guarantee"])
        assert d["limit"] == pytest.approx(e["limit"]) and d["reasons_zh"] == list(e["decision_reasons_zh"])
    bad = server["client"].post("/score", json={"firms": [{**with_loans[0], "guarantee_type": "a promise"}]})
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "guarantee_type"
