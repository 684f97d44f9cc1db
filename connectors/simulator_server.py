"""Serving a simulator over real HTTP, and counting what it was asked.

Every simulator is a plain Starlette app. Tests that want real sockets and the
demo serve it with uvicorn on loopback inside the running event loop::

    async with serve_app(simulator.app) as base_url:
        connector = ShopifyConnector(base_url, "shpat_demo")

Port 0 lets the kernel pick a free port, so parallel tests never collide.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from collections import Counter, deque
from collections.abc import AsyncIterator
from enum import StrEnum
from functools import cache
from typing import Any

import httpx
import uvicorn
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send


async def _gone(request: Request, exc: Exception) -> Response:
    """A client gone before its body was read (its own timeout passed, as a
    real upstream sees): nobody reads the answer, and it is no error of the
    simulator's to log."""
    return Response(status_code=499)


QUIET_DISCONNECTS = {ClientDisconnect: _gone}
"""Every simulator app's ``exception_handlers``."""


@cache
def sender_tls() -> ssl.SSLContext:
    """What the simulators' webhook senders verify with, loaded once per
    process: an ``httpx`` client made without a context loads certifi's roots
    again (~15 ms; ~24 s of the suite's CPU for Zendesk's events alone). Their
    own, not the connectors' (``tls_roots``): httpx sets ALPN on the context
    it is given."""
    return httpx.create_ssl_context()


@contextlib.asynccontextmanager
async def serve_app(
    app: ASGIApp, *, host: str = "127.0.0.1", **options: Any
) -> AsyncIterator[str]:
    """Run ``app`` with uvicorn on a free loopback port; yield its base URL.
    ``options``: uvicorn's other settings, over these defaults."""
    settings: dict[str, Any] = {
        "log_level": "warning", "lifespan": "off", "access_log": False, **options
    }  # fmt: skip
    config = uvicorn.Config(app, host=host, port=0, **settings)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def answered_after(latency: float) -> AsyncIterator[None]:
    """Hold an answer until ``latency`` seconds after the request arrived.

    A simulated upstream's latency is its response time, its own work
    included — as a real upstream's is; the simulator's work is not added on
    top (on a small machine it would be the simulator measuring itself)."""
    started = time.monotonic()
    yield
    left = latency - (time.monotonic() - started)
    if left > 0:
        await asyncio.sleep(left)


class RequestCounter:
    """Counts requests by key (a path, a GraphQL root field) so N+1 guards can
    assert how many upstream calls a query cost."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def add(self, key: str) -> None:
        self._counts[key] += 1

    def __getitem__(self, key: str) -> int:
        return self._counts[key]

    @property
    def total(self) -> int:
        return sum(self._counts.values())

    def snapshot(self) -> dict[str, int]:
        return dict(self._counts)

    def reset(self) -> None:
        self._counts.clear()


class Fault(StrEnum):
    """Ways an upstream misbehaves below its own envelope, for the tests of
    what the gateway makes of them (``InjectedFailures.inject``)."""

    HANG = "hang"
    """Accept the request and never answer (until the client gives up)."""
    SLOW_BODY = "slow_body"
    """Headers at once, then the real body a few bytes at a time over
    ``InjectedFailures.slow_body_seconds``."""
    MALFORMED_JSON = "malformed_json"
    """200, a JSON content type, and half the real body: not JSON."""
    TRUNCATED_BODY = "truncated_body"
    """``Content-Length`` of the real body, half of it sent, the connection closed."""
    HTML_PAGE = "html_page"
    """200 with an HTML page (a proxy's error page, a login form)."""
    WRONG_CONTENT_TYPE = "wrong_content_type"
    """The real body, declared ``text/plain``."""
    ERROR_BODY = "error_body"
    """200 whose JSON holds only ``errors``."""
    SHAPE_CHANGED = "shape_changed"
    """200 with the real JSON in a shape the connector does not know (what a
    new API version might answer): every object inside a list has its keys
    renamed (``<key>_v2``), every list inside a list keeps its first item."""


HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Service temporarily unavailable</title>"
    b"</head><body><h1>Something went wrong</h1><p>Please try again later.</p>"
    b"</body></html>"
)
HANG_AT_MOST = 120.0
"""Seconds a hung request is held at most, should its client never leave."""


class InjectedFailures:
    """The failure knobs every simulator offers its tests: answer the next
    requests with an error status, or a 429 saying when to come back (in the
    upstream's envelope, by the simulator itself); or misbehave below the
    envelope (``inject``), which ``with_faults`` applies around the
    simulator's app — the request still reaches the simulator and is counted."""

    slow_body_seconds = 30.0

    def __init__(self) -> None:
        self._queue: deque[tuple[int, float]] = deque()
        self._faults: deque[Fault] = deque()
        self._healed = asyncio.Event()

    def fail_next(self, n: int = 1, *, status: int = 503) -> None:
        """The next ``n`` requests answer ``status`` in the upstream's envelope."""
        self._queue.extend((status, 0.0) for _ in range(n))

    def force_rate_limit(self, n: int = 1, *, retry_after: float = 1) -> None:
        """The next ``n`` requests answer 429 with ``Retry-After: retry_after``."""
        self._queue.extend((429, retry_after) for _ in range(n))

    def inject(self, fault: Fault, n: int = 1) -> None:
        """The next ``n`` requests misbehave as ``fault`` says."""
        self._faults.extend(fault for _ in range(n))

    def heal(self) -> None:
        """Forget failures not used up, and let hung requests go, so one
        test's outage does not leak."""
        self._queue.clear()
        self._faults.clear()
        self._healed.set()
        self._healed = asyncio.Event()

    def next_failure(self) -> tuple[int, float] | None:
        """``(status, retry_after)`` of the failure to answer now, if any."""
        return self._queue.popleft() if self._queue else None

    def with_faults(self, app: ASGIApp) -> ASGIApp:
        """``app`` misbehaving as ``inject`` asks: what ``serve_app`` serves."""
        return _Faulty(app, self)

    def next_fault(self) -> tuple[Fault, asyncio.Event] | None:
        """The fault to act now, if any, and the event ``heal`` sets."""
        return (self._faults.popleft(), self._healed) if self._faults else None


class _Faulty:
    """Runs the simulator, then sends its answer the way a fault says."""

    def __init__(self, app: ASGIApp, knobs: InjectedFailures) -> None:
        self.app = app
        self.knobs = knobs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        next_fault = self.knobs.next_fault() if scope["type"] == "http" else None
        if next_fault is None:
            await self.app(scope, receive, send)
            return
        fault, healed = next_fault
        sent: list[Message] = []

        async def keep(message: Message) -> None:
            sent.append(message)

        await self.app(scope, receive, keep)
        status = sent[0]["status"]
        headers = [(k, v) for k, v in sent[0]["headers"] if k != b"content-length"]
        body = b"".join(m.get("body", b"") for m in sent[1:])
        if fault is Fault.HANG:
            await _until_gone(receive, healed, HANG_AT_MOST)
        elif fault is Fault.SLOW_BODY:
            await _trickle(
                (status, headers, body),
                receive,
                send,
                healed,
                self.knobs.slow_body_seconds,
            )
        elif fault is Fault.TRUNCATED_BODY:
            await _start(send, status, headers, len(body))
            half = body[: len(body) // 2]
            await send({"type": "http.response.body", "body": half, "more_body": True})
        else:
            status, content_type, body = _misshapen(fault, body)
            headers = [(k, v) for k, v in headers if k != b"content-type"]
            headers = [(b"content-type", content_type), *headers]
            await _start(send, status, headers, len(body))
            await send({"type": "http.response.body", "body": body})


def _misshapen(fault: Fault, body: bytes) -> tuple[int, bytes, bytes]:
    """``(status, content type, body)`` of a fault that answers at once."""
    if fault is Fault.MALFORMED_JSON:
        return 200, b"application/json", body[: len(body) // 2] or b'{"data": '
    if fault is Fault.HTML_PAGE:
        return 200, b"text/html; charset=utf-8", HTML_PAGE
    if fault is Fault.WRONG_CONTENT_TYPE:
        return 200, b"text/plain; charset=utf-8", body
    if fault is Fault.SHAPE_CHANGED:
        return (
            200,
            b"application/json",
            json.dumps(_reshaped(json.loads(body))).encode(),
        )
    error = b'{"errors": [{"message": "Internal error"}]}'
    return 200, b"application/json", error


def _reshaped(value: Any, in_list: bool = False) -> Any:
    """``value`` as ``Fault.SHAPE_CHANGED`` answers it."""
    if isinstance(value, dict):
        suffix = "_v2" if in_list else ""
        return {f"{k}{suffix}": _reshaped(v) for k, v in value.items()}
    if isinstance(value, list):
        items = value[:1] if in_list else value
        return [_reshaped(item, in_list=True) for item in items]
    return value


async def _start(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], length: int
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(length).encode())],
        }
    )


async def _until_gone(receive: Receive, healed: asyncio.Event, most: float) -> bool:
    """Wait until the client disconnects or the knobs heal (``True``), or
    ``most`` seconds pass (``False``)."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    gone = asyncio.ensure_future(disconnected())
    released = asyncio.ensure_future(healed.wait())
    try:
        done, _ = await asyncio.wait({gone, released}, timeout=most)
    finally:
        gone.cancel()
        released.cancel()
    return bool(done)


async def _trickle(
    answer: tuple[int, list[tuple[bytes, bytes]], bytes],
    receive: Receive,
    send: Send,
    healed: asyncio.Event,
    seconds: float,
) -> None:
    """``answer``'s body in 20 pieces over ``seconds``, stopping if the
    client leaves or the knobs heal."""
    status, headers, body = answer
    await _start(send, status, headers, len(body))
    pieces = 20
    size = max(1, -(-len(body) // pieces))
    for offset in range(0, len(body), size):
        if await _until_gone(receive, healed, seconds / pieces):
            return
        chunk = body[offset : offset + size]
        last = offset + size >= len(body)
        await send({"type": "http.response.body", "body": chunk, "more_body": not last})
