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
import time
from collections import Counter, deque
from collections.abc import AsyncIterator

import uvicorn
from starlette.types import ASGIApp


@contextlib.asynccontextmanager
async def serve_app(app: ASGIApp, *, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Run ``app`` with uvicorn on a free loopback port; yield its base URL."""
    config = uvicorn.Config(
        app, host=host, port=0, log_level="warning", lifespan="off", access_log=False
    )
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


class InjectedFailures:
    """The failure knobs every simulator offers its tests: answer the next
    requests with an error status, or a 429 saying when to come back."""

    def __init__(self) -> None:
        self._queue: deque[tuple[int, float]] = deque()

    def fail_next(self, n: int = 1, *, status: int = 503) -> None:
        """The next ``n`` requests answer ``status`` in the upstream's envelope."""
        self._queue.extend((status, 0.0) for _ in range(n))

    def force_rate_limit(self, n: int = 1, *, retry_after: float = 1) -> None:
        """The next ``n`` requests answer 429 with ``Retry-After: retry_after``."""
        self._queue.extend((429, retry_after) for _ in range(n))

    def heal(self) -> None:
        """Forget failures not used up, so one test's outage does not leak."""
        self._queue.clear()

    def next_failure(self) -> tuple[int, float] | None:
        """``(status, retry_after)`` of the failure to answer now, if any."""
        return self._queue.popleft() if self._queue else None
