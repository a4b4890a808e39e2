"""A deadline for a request's headers, below the ASGI application.

uvicorn (under BentoML) waits for headers as long as each line keeps coming: a client that sent a
header line every 4 s held a connection for 28 s, and many such clients hold every connection a
worker can take. The guard's deadline covers the body (408); this one covers what comes before the
application is called: the request line and headers must arrive within `timeout_s` of the
connection, or of the first byte of the next request on a kept-alive connection. Then the reply is
a 408 with a JSON body, and the connection is closed.
"""
from __future__ import annotations

import json

_BODY = json.dumps({"error": "the request headers did not arrive in time / 请求头接收超时"}).encode("utf-8")
TIMEOUT_REPLY = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
                 b"content-length: " + str(len(_BODY)).encode() + b"\r\n\r\n" + _BODY)


def limit_header_time(timeout_s: float) -> None:
    """Give uvicorn's h11 protocol (the one installed: no httptools) the header deadline; once per process."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    if getattr(H11Protocol, "header_deadline_s", None) is not None:
        return
    H11Protocol.header_deadline_s = timeout_s
    made, received = H11Protocol.connection_made, H11Protocol.data_received

    def arm(protocol) -> None:
        if getattr(protocol, "header_timer", None) is None:
            protocol.header_timer = protocol.loop.call_later(protocol.header_deadline_s, expire, protocol)

    def disarm(protocol) -> None:
        timer = getattr(protocol, "header_timer", None)
        if timer is not None:
            timer.cancel()
            protocol.header_timer = None

    def expire(protocol) -> None:
        protocol.header_timer = None
        if not protocol.transport.is_closing():
            protocol.transport.write(TIMEOUT_REPLY)
            protocol.transport.close()

    def connection_made(self, transport) -> None:
        made(self, transport)
        arm(self)

    def data_received(self, data: bytes) -> None:
        if self.cycle is None or self.cycle.response_complete:     # between requests: headers expected
            arm(self)
        cycle = self.cycle
        received(self, data)
        if self.cycle is not cycle:                                 # a request's headers are complete
            disarm(self)

    H11Protocol.connection_made, H11Protocol.data_received = connection_made, data_received
