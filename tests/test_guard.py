"""The front door and the body reader in process (httpx's ASGI transport): the guard in front of a
small application that echoes the body it receives, and the reader on the catalogue's request model."""
import asyncio
import json
import threading

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from innoscore.serving.guard import RequestGuard, RequestLimits
from innoscore.serving.request_body import FirmsReader, Refusal
from innoscore.serving.schemas import firm_model, firm_problems

KEY = "k-123"


async def _echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"received": body.decode("utf-8", "replace"), "length": len(body)})


def _guarded(stopping: threading.Event | None = None, limit: int = 2_000, timeout_s: float = 0.5):
    app = Starlette(routes=[Route(p, _echo, methods=["GET", "POST"]) for p in ("/score", "/model_info", "/livez")])
    return RequestGuard(app, limits=RequestLimits(limit, timeout_s), body_paths=("/score",),
                        optional_body_paths=("/model_info",), public_paths=("/livez",), api_key=KEY,
                        stopping=stopping)


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://guarded")


def _run(coro):
    return asyncio.run(coro)


def test_the_key_is_needed_except_on_public_paths():
    async def calls():
        async with _client(_guarded()) as c:
            body = {"content": b"{}", "headers": {"content-type": "application/json"}}
            refused = [await c.post("/score", **body),
                       await c.post("/score", **body | {"headers": {**body["headers"], "authorization": "Bearer no"}}),
                       await c.post("/score", **body | {"headers": {**body["headers"], "authorization": f"Basic {KEY}"}})]
            accepted = [await c.post("/score", **body | {"headers": {**body["headers"], "authorization": f"{s} {KEY}"}})
                        for s in ("Bearer", "bearer", "BEARER")]
            return refused, accepted, await c.get("/livez")
    refused, accepted, probe = _run(calls())
    assert all(r.status_code == 401 and "API key" in r.json()["error"] for r in refused)
    assert all(r.status_code == 200 for r in accepted) and probe.status_code == 200


def test_bodies_are_json_within_the_size_and_replayed_unchanged():
    auth = {"authorization": f"Bearer {KEY}"}

    async def chunks():
        yield b"x" * 1_500
        yield b"x" * 1_500

    async def calls():
        async with _client(_guarded()) as c:
            return {
                "echo": await c.post("/score", content='{"firms": ["企业"]}'.encode(), headers={**auth, "content-type": "application/json; charset=utf-8"}),
                "text": await c.post("/score", content=b"{}", headers={**auth, "content-type": "text/plain"}),
                "none": await c.post("/score", content=b"{}", headers=auth),
                "large": await c.post("/score", content=b"x" * 2_001, headers={**auth, "content-type": "application/json"}),
                "chunked": await c.post("/score", content=chunks(),
                                        headers={**auth, "content-type": "application/json"}),
                "info_empty": await c.post("/model_info", headers=auth),
                "info_json": await c.post("/model_info", json={}, headers=auth),
                "info_text": await c.post("/model_info", content=b"a=1", headers=auth),
            }
    r = _run(calls())
    assert r["echo"].status_code == 200 and r["echo"].json()["received"] == '{"firms": ["企业"]}'
    assert r["text"].status_code == r["none"].status_code == 415 and r["text"].json()["error"]
    assert r["large"].status_code == r["chunked"].status_code == 413
    assert r["info_empty"].json()["length"] == 0 and r["info_json"].json()["received"] == "{}"
    assert r["info_text"].status_code == 415


def test_a_body_that_does_not_arrive_gets_408_within_the_deadline():
    sent = []

    async def trickle():
        await asyncio.sleep(0.05)
        return {"type": "http.request", "body": b"{", "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/score", "headers": [
        (b"authorization", f"Bearer {KEY}".encode()), (b"content-type", b"application/json")]}

    async def call():
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await _guarded(timeout_s=0.3)(scope, trickle, send)
        return loop.time() - t0
    waited = _run(call())
    assert sent[0]["status"] == 408 and waited < 1.0
    assert b"did not arrive" in sent[1]["body"]


def test_a_stopping_worker_says_connection_close():
    stopping = threading.Event()

    async def call():
        async with _client(_guarded(stopping)) as c:
            before = await c.get("/livez")
            stopping.set()
            return before, await c.get("/livez")
    before, after = _run(call())
    assert before.headers.get("connection") != "close" and after.headers["connection"] == "close"


@pytest.fixture(scope="module")
def reader(catalogue):
    Firm = firm_model(catalogue)
    return FirmsReader(3, 50, catalogue.dataset.firm_id_column, lambda firms: firm_problems(Firm, catalogue, firms))


@pytest.mark.parametrize("body, status, field", [
    (b"{not json", 400, None), (b"[1]", 400, None), (b'{"firms": "x"}', 400, "firms"), (b"\xff", 400, None),
    (b'{"firms": [], "firms": []}', 400, None), (b'{"firms": [{"revenue": NaN}]}', 400, None),
    (b'{"firms": []}', 422, None), (b'{"firms": [{}, {}, {}, {}]}', 413, None),
    (b'{"firms": [{"firm_id": "F1", "revenue": true}]}', 422, "revenue"),
    (b'{"firms": [{"firm_id": "F1", "revenue": 1e400}]}', 422, "revenue"),
    (b'{"firms": [{"firm_id": "F1", "revenue": [1]}]}', 422, "revenue"),
    (b'{"firms": [{"firm_id": "' + b"x" * 51 + b'"}]}', 422, "firm_id"),
    (b'{"firms": [{"firm_id": "F1", "debt_ratio": 9.5}]}', 422, "debt_ratio"),
])
def test_the_reader_refuses_with_a_status_naming_the_field(reader, body, status, field):
    with pytest.raises(Refusal) as refused:
        reader.read(body)
    assert refused.value.status == status and refused.value.message
    if field is not None:
        assert field in {p["field"] for p in refused.value.problems}
        assert all(p["message"] and p["message_zh"] for p in refused.value.problems)


def test_the_reader_passes_a_valid_body_and_ignores_other_fields(reader, small_portfolio, catalogue):
    rows = small_portfolio.data[["firm_id", *catalogue.indicator_ids]].head(2)
    firms = json.loads(rows.to_json(orient="records"))
    parsed = reader.read(json.dumps({"firms": firms, "note": "kept"}).encode())
    assert parsed["firms"] == firms and parsed["note"] == "kept"
