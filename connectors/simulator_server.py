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
from collections import Counter
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
