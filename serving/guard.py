"""The service's front door: what a request must be before the endpoints see it.

An ASGI middleware for what a middleware is for, so that each refusal is a 4xx JSON reply written
before any body reaches the application:

- the API key (`Authorization: Bearer <key>`, the scheme in any case as RFC 7235 says), the key
  compared as bytes in constant time; `public_paths` need none;
- POST bodies (`body_paths`): `application/json` only (415), at most `max_body_bytes` (413, from
  Content-Length or while reading), the whole body read within `client_timeout_s` (408: however it
  trickles in); for a path that takes no fields (`optional_body_paths`: /model_info, /reload) no
  body is fine too;
- once the worker is stopping (`stopping` set on SIGTERM, `serving.stopping`), every reply says
  `Connection: close`, so that no client sends again on a connection about to be closed.

The body, once read, is replayed unchanged to the application, whose endpoints parse it
(`request_body`). BentoML's outer middlewares (metrics, tracing, access log, timeout, concurrency
limit) still see every request.
"""
from __future__ import annotations

import asyncio
import hmac
import threading
from dataclasses import dataclass

from innoscore.serving.request_body import Refusal


@dataclass(frozen=True)
class RequestLimits:
    max_body_bytes: int
    client_timeout_s: float


class RequestGuard:
    """ASGI middleware: see the module docstring."""

    def __init__(self, app, *, limits: RequestLimits, body_paths: tuple[str, ...], public_paths: tuple[str, ...],
                 api_key: str | None, optional_body_paths: tuple[str, ...] = (),
                 stopping: threading.Event | None = None):
        self.app, self.limits, self.public_paths = app, limits, public_paths
        self.body_paths, self.optional_body_paths = body_paths, optional_body_paths
        self.expected = api_key.encode("utf-8") if api_key else None
        self.stopping = stopping

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.stopping is not None and self.stopping.is_set():
            send = _closing_connection(send)
        path = scope["path"]
        try:
            self._check_key(scope)
            if scope["method"] == "POST" and (path in self.body_paths or path in self.optional_body_paths):
                body = await self._read_body(scope, receive, optional=path in self.optional_body_paths)
                receive = _replay(body, receive)
        except Refusal as refusal:
            await refusal.response()(scope, receive, send)
            return
        await self.app(scope, receive, send)

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
