"""Each HTTP response written to its socket in one call: head and body together.

uvicorn's httptools protocol writes a response's status line and headers when
the app sends ``http.response.start``, and its body when the app sends the
body: two writes on the socket, two TCP segments, and two wake-ups of a client
that waits for the whole answer. On loopback, or wherever the client shares
the worker's cores, each wake-up may run the client on the worker's core in
its place. Node's ``res.end`` sends head and body in one segment.

``OneWriteProtocol`` is that protocol with its transport wrapped: what the
response writes in one turn of the event loop is held and written at the end
of the turn, in one call. Every answer of ``/graphql`` sends its start and its
body in the same turn, so it leaves in one write. A streamed body (a
subscription's events over ``text/event-stream``) leaves at the end of the
loop turn each part was sent in; once ``HOLD_AT_MOST`` bytes are held, at
once, so the socket's back-pressure still holds. When the client closes its
side, what is held goes out before the socket closes. A WebSocket upgrade
takes the socket's own transport.

Measured on a 2-core machine under the warm 360 view's keep-alive load
(docs/benchmarks.md, session 29): the load generator's CPU per request fell by
about a fifth (one read of each answer instead of two), the gateway's
throughput rose ~3 %.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HOLD_AT_MOST = 64 * 1024
"""Bytes held before they are written at once: the transport's own high-water
mark, so a body sent in many chunks without a pause still meets the socket's
back-pressure (uvicorn waits for a drain only once a write paused it)."""


class OneWriteTransport:
    """A transport whose writes of one loop turn go out in one write."""

    __slots__ = ("_held", "_loop", "_size", "inner")

    def __init__(self, inner: asyncio.Transport) -> None:
        self.inner = inner
        self._held: list[bytes] = []
        self._size = 0
        self._loop = asyncio.get_running_loop()

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(data)
        self._size += len(data)
        if self._size >= HOLD_AT_MOST:
            self.flush()

    def writelines(self, lines: Iterable[bytes]) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        """Write what is held in one call (nothing once the socket closed):
        with uvloop, one system call for the parts, without joining them."""
        if not self._held:
            return
        held, self._held, self._size = self._held, [], 0
        if self.inner.is_closing():
            return
        if len(held) == 1:
            self.inner.write(held[0])
        else:
            self.inner.writelines(held)

    def get_write_buffer_size(self) -> int:
        return self.inner.get_write_buffer_size() + self._size

    def write_eof(self) -> None:
        self.flush()
        self.inner.write_eof()

    def close(self) -> None:
        self.flush()
        self.inner.close()

    def abort(self) -> None:
        self._held, self._size = [], 0
        self.inner.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class OneWriteProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, its responses written once each."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self.transport = OneWriteTransport(self.transport)  # type: ignore[assignment]

    def eof_received(self) -> None:
        """The client closed its side: the transport closes itself after
        this, so what is held goes out first (a request and its end in one
        packet, answered in the request's first turn)."""
        if isinstance(self.transport, OneWriteTransport):
            self.transport.flush()
        super().eof_received()

    def handle_websocket_upgrade(self) -> None:
        if isinstance(self.transport, OneWriteTransport):
            self.transport.flush()
            self.transport = self.transport.inner
        super().handle_websocket_upgrade()
