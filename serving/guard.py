"""The service's front door: what a request must be before BentoML and the model see it.

An ASGI middleware, so that every refusal is a 4xx JSON reply written here, before any body is
parsed by the framework and without a traceback in the log:

- the API key (`Authorization: Bearer <key>`, the scheme in any case as RFC 7235 says), the key
  compared as bytes in constant time;
- POST bodies: `application/json` only (415), 1 to `max_firms` firms (422, 413), at most
  `max_body_bytes` (413, from Content-Length or while reading), the whole body read within
  `client_timeout_s` (408: however it trickles in);
- POST to an endpoint without fields (`empty_paths`: /model_info, /reload): no body, or a JSON
  object (415 for any other media type, 400 for a body that is not one);
- strict JSON (400): one object, no duplicate keys, no NaN/Infinity literals;
- firm fields (422, naming the firm and field): no `true`/`false` as a value, no number beyond
  the range of a float (1e400 parses as infinity), no text longer than `max_string_length`; then
  `firm_check` (the request model built from the catalogue, `schemas.firm_problems`);
- `/docs` is the Swagger UI (the index page, served without BentoML's Google Tag Manager and with a
  same-origin Content-Security-Policy), `/docs.json` the OpenAPI document with every status this
  service returns (`schemas.openapi_with_errors`);
- once the worker is stopping (`stopping` set on SIGTERM, `serving.stopping`), every reply says
  `Connection: close`, so that no client sends again on a connection about to be closed.

The body, once read and checked, is replayed unchanged to the application; or, for a `direct` path
(/score, /explain), the checked body goes straight to the service's handler: BentoML's API layer
would parse and validate the same body a second time (0.2-0.3 ms of a one-firm request, half of
scoring it). BentoML's outer middlewares (metrics, tracing, access log, timeout, concurrency limit)
still see every request.
"""
from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import math
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable, Mapping

import anyio
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

logger = logging.getLogger("innoscore.serving")
MAX_FLOAT = sys.float_info.max
# The Swagger UI page loads only what this server serves (its inline script and styles included).
SAME_ORIGIN_ONLY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
                    "img-src 'self' data:; connect-src 'self'; frame-src 'none'; object-src 'none'")


@functools.cache
def offline_index_page() -> str:
    """BentoML's Swagger UI page (the index, /docs) without its Google Tag Manager: a bank's intranet
    reaches no other host, and an API page must not report its users to one."""
    from _bentoml_impl.server import app as bentoml_app

    page = (Path(bentoml_app.__file__).parent / "main-openapi.html").read_text(encoding="utf-8")
    return re.sub(r"<(script|noscript)\b[^>]*>.*?</\1>",
                  lambda block: "" if "googletagmanager" in block.group(0) else block.group(0), page, flags=re.S)


@dataclass(frozen=True)
class RequestLimits:
    max_firms: int
    max_body_bytes: int
    max_string_length: int
    client_timeout_s: float


class Refusal(Exception):
    """A request refused before it reaches the service: status, message and optional problems."""

    def __init__(self, status: int, message: str, problems: list[dict] | None = None):
        super().__init__(message)
        self.status, self.message, self.problems = status, message, problems

    def response(self) -> JSONResponse:
        body = {"error": self.message}
        if self.problems is not None:
            body["problems"] = self.problems
        return JSONResponse(body, status_code=self.status)


def _pairs_without_duplicates(pairs: list[tuple[str, object]]) -> dict:
    built = dict(pairs)
    if len(built) < len(pairs):             # some key repeats: find the first, to name it
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise Refusal(400, f"duplicate key '{key[:64]}' in the JSON body / JSON中存在重复的键")
            seen.add(key)
    return built


def _no_constant(name: str):
    raise Refusal(400, f"'{name}' is not valid JSON / 非法的JSON数值")


def parse_strict_json(body: bytes) -> dict:
    """The body as a JSON object, or Refusal(400) naming what is wrong with it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(400, "the body is not UTF-8 text / 请求体不是UTF-8文本") from None
    try:
        parsed = json.loads(text, object_pairs_hook=_pairs_without_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise Refusal(400, f"the body is not valid JSON: {exc.msg} at position {exc.pos} / 请求体不是合法JSON") from None
    except RecursionError:
        raise Refusal(400, "the JSON body is nested too deeply / JSON嵌套过深") from None
    if not isinstance(parsed, dict):
        raise Refusal(400, "the body must be a JSON object / 请求体必须是JSON对象")
    return parsed


def _field_problem(index: int, firm_id, field: str, code: str, message: str, message_zh: str) -> dict:
    return {"firm_id": None if firm_id is None else str(firm_id)[:64], "index": index, "field": field[:64],
            "code": code, "message": message, "message_zh": message_zh}


def firm_value_problems(body: dict, id_column: str, max_string_length: int) -> list[dict]:
    """What no catalogue rule can read in the firms' values: booleans, integers beyond float range,
    over-long text (values are never echoed back)."""
    firms = body.get("firms")
    if not isinstance(firms, list):
        return []
    problems = []
    for i, firm in enumerate(firms):
        if not isinstance(firm, dict):
            continue
        firm_id = firm.get(id_column)
        firm_id = firm_id if isinstance(firm_id, (str, int)) and not isinstance(firm_id, bool) else None
        for field, value in firm.items():
            kind = type(value)
            if ((kind is float and value - value == 0.0) or value is None   # finite: inf - inf is NaN
                    or (kind is int and -MAX_FLOAT <= value <= MAX_FLOAT)) and len(field) <= max_string_length:
                continue                    # the usual value, at the price of one test
            if len(field) > max_string_length:
                problems.append(_field_problem(i, firm_id, field, "unknown_field", "field name too long",
                                               "字段名过长"))
            elif isinstance(value, bool):
                problems.append(_field_problem(i, firm_id, field, "not_a_number",
                                               "true/false is not a value of this field", "不接受布尔值"))
            elif (isinstance(value, int) and abs(value) > MAX_FLOAT) or (isinstance(value, float)
                                                                         and not math.isfinite(value)):
                problems.append(_field_problem(i, firm_id, field, "out_of_range",
                                               "number beyond the range of a float", "数值超出浮点数范围"))
            elif isinstance(value, str) and len(value) > max_string_length:
                problems.append(_field_problem(i, firm_id if field != id_column else None, field, "too_long",
                                               f"text longer than {max_string_length} characters",
                                               f"文本长度超过{max_string_length}个字符"))
            elif isinstance(value, (list, dict)):
                problems.append(_field_problem(i, firm_id, field, "not_a_number", "a list or object is not a value",
                                               "不接受列表或对象"))
    return problems


class RequestGuard:
    """ASGI middleware: see the module docstring. `api_paths` get the body checks; `public_paths`
    need no key; `openapi` returns the service's OpenAPI document (served at /docs.json); `direct`
    maps a path to the handler of its checked body (it answers None for a body it leaves to BentoML,
    and while the service is not ready)."""

    def __init__(self, app, *, limits: RequestLimits, api_paths: tuple[str, ...], public_paths: tuple[str, ...],
                 api_key: str | None, id_column: str, openapi: Callable[[], dict],
                 firm_check: Callable[[list], list[dict]],
                 direct: Mapping[str, Callable[[dict], Awaitable[Response | None]]] | None = None,
                 empty_paths: tuple[str, ...] = (), stopping: threading.Event | None = None):
        self.app, self.limits, self.api_paths, self.empty_paths = app, limits, api_paths, empty_paths
        self.public_paths = public_paths
        self.expected = api_key.encode("utf-8") if api_key else None
        self.id_column, self.openapi, self.firm_check = id_column, openapi, firm_check
        self.direct = dict(direct or {})
        self._openapi_doc: dict | None = None
        self.stopping = stopping

    async def __call__(self, scope, receive, send):
        if self.stopping is not None and self.stopping.is_set() and scope["type"] == "http":
            send = _closing_connection(send)
        await self._guard(scope, receive, send)

    async def _guard(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        try:
            self._check_key(scope)
            page = self._documentation(path, scope["method"])
            if page is not None:
                await page(scope, receive, send)
                return
            if path in self.api_paths and scope["method"] == "POST":
                body = await self._read_body(scope, receive)
                parsed, problems = await _off_loop_if_large(len(body), self._checked, body)
                firms = parsed.get("firms")
                if problems:
                    raise Refusal(422, "invalid firm data / 企业数据无效", problems)
                handler = self.direct.get(path)
                if handler is not None and isinstance(firms, list):
                    response = await _answer(handler, parsed, path)
                    if response is not None:
                        await response(scope, receive, send)
                        return
                receive = _replay(body, receive)
            elif path in self.empty_paths and scope["method"] == "POST":
                body = await self._read_body(scope, receive, optional=True)
                if body.strip():
                    parse_strict_json(body)       # a JSON object; its fields, if any, are ignored as BentoML does
                receive = _replay(body, receive)
        except Refusal as refusal:
            await refusal.response()(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _checked(self, body: bytes) -> tuple[dict, list[dict]]:
        """The body parsed, and the problems of its firms (a Refusal for a body that is not a request)."""
        parsed = parse_strict_json(body)
        firms = parsed.get("firms")
        if isinstance(firms, list):
            if not firms:
                raise Refusal(422, "no firms in the request / 请求中没有企业")
            if len(firms) > self.limits.max_firms:
                raise Refusal(413, f"{len(firms)} firms in one request; the maximum is "
                                   f"{self.limits.max_firms} / 单次请求企业数超过上限")
        problems = firm_value_problems(parsed, self.id_column, self.limits.max_string_length)
        if not problems and isinstance(firms, list):
            problems = self.firm_check(firms)
        return parsed, problems

    def _documentation(self, path: str, method: str) -> Response | None:
        """The Swagger UI page (`/`, `/docs`) and the OpenAPI document (`/docs.json`), else None."""
        if path == "/docs":
            return RedirectResponse("/", status_code=307)
        if path == "/" and method in ("GET", "HEAD"):
            return HTMLResponse(offline_index_page(), headers={"Content-Security-Policy": SAME_ORIGIN_ONLY})
        if path == "/docs.json":
            if self._openapi_doc is None:
                self._openapi_doc = self.openapi()
            return JSONResponse(self._openapi_doc)
        return None

    def _check_key(self, scope) -> None:
        if self.expected is None or scope["path"] in self.public_paths:
            return
        given = b""
        for name, value in scope.get("headers") or []:
            if name == b"authorization":
                given = value
        scheme, _, key = given.strip().partition(b" ")
        if not (hmac.compare_digest(key.strip(), self.expected) and scheme.lower() == b"bearer"):   # bytes: any byte is safe
            raise Refusal(401, "missing or wrong API key: send 'Authorization: Bearer <key>'")

    async def _read_body(self, scope, receive, optional: bool = False) -> bytes:
        """The whole body, within one deadline; `optional`: a request without a media type may send none."""
        headers = dict(scope.get("headers") or [])
        media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if media_type != b"application/json" and not (optional and not media_type):
            raise Refusal(415, "send the body as application/json / 请求体须为application/json")
        limit = self.limits.max_body_bytes
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            raise Refusal(413, f"the body is larger than {limit} bytes / 请求体超过上限")
        chunks, size = [], 0
        try:
            async with asyncio.timeout(self.limits.client_timeout_s):     # the whole body, however it trickles
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        raise Refusal(400, "the client disconnected / 客户端已断开")
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > limit:
                        raise Refusal(413, f"the body is larger than {limit} bytes / 请求体超过上限")
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            raise Refusal(408, f"the body did not arrive within {self.limits.client_timeout_s:g} s "
                               f"/ 请求体接收超时") from None
        body = b"".join(chunks)
        if optional and not media_type and body.strip():
            raise Refusal(415, "send the body as application/json / 请求体须为application/json")
        return body


INLINE_BODY_BYTES = 65_536     # about 30 firms: a larger body is parsed and checked on a thread


async def _off_loop_if_large(size: int, work, *args):
    """`work(*args)` on the event loop for a small body, on a thread for a large one: parsing and
    checking grow with the firms, and the loop answers probes meanwhile."""
    if size <= INLINE_BODY_BYTES:
        return work(*args)
    return await anyio.to_thread.run_sync(work, *args)


async def _answer(handler: Callable[[dict], Awaitable[Response | None]], body: dict, path: str) -> Response | None:
    """The handler's reply; a failure is a 500 JSON reply as BentoML gives, logged without the request."""
    try:
        return await handler(body)
    except Exception:
        logger.exception("%s failed", path)
        return JSONResponse({"error": "An unexpected error has occurred, please check the server log."},
                            status_code=500)


def _closing_connection(send):
    """A `send` whose reply tells the client to close the connection (the server is stopping)."""
    async def closing(message):
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
            message = {**message, "headers": [*headers, (b"connection", b"close")]}
        await send(message)
    return closing


def _replay(body: bytes, server_receive):
    """A `receive` that hands the application the body already read, then the server's own messages
    (a disconnect)."""
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await server_receive()
    return receive
