"""Real gateways on loopback for the live timeline tests: a seeded SQLite
database, the three simulators, and one or more replicas served by uvicorn."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import websockets
from pydantic import SecretStr

from connectors.demo_world import World
from connectors.simulator_server import serve_app
from gateway.app import create_app
from gateway.db.session import upgrade
from gateway.demo.seed import seed
from gateway.demo.simulation import Simulators, simulated_upstreams
from gateway.runtime.services import Services, open_services
from gateway.settings import Settings
from tests.conftest import ANSWER_WAIT, graphql_socket

API_KEY = "cg_e2e_timeline_key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
WORLD = World(seed=42, size=20)


@dataclass
class Replica:
    base_url: str
    services: Services

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://") + "/graphql"


@asynccontextmanager
async def live_gateways(
    tmp_path: Path, replicas: int = 1, **settings: Any
) -> AsyncIterator[tuple[list[Replica], Simulators]]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'live.db'}"
    await asyncio.to_thread(upgrade, database_url)
    async with simulated_upstreams(WORLD) as simulators, AsyncExitStack() as stack:
        # The suite's read deadline (tests/conftest.py): with the production
        # 2 s, a loaded CI box once cut a push's re-read of Shopify's orders.
        settings.setdefault("read_deadline_seconds", 30.0)
        base = Settings(
            database_url=database_url, demo_api_key=SecretStr(API_KEY), **settings
        )
        started: list[Replica] = []
        for number in range(replicas):
            services = await stack.enter_async_context(
                open_services(simulators.settings(base))
            )
            if number == 0:
                await seed(services.sessions, WORLD)
            url = await stack.enter_async_context(
                serve_app(create_app(services=services))
            )
            started.append(Replica(url, services))
        yield started, simulators


class Subscription:
    """A graphql-transport-ws client over the ``websockets`` package."""

    def __init__(self, socket: websockets.ClientConnection) -> None:
        self.socket = socket

    async def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(
            await asyncio.wait_for(self.socket.recv(), timeout)
        )
        return message

    async def next_event(self, timeout: float = 5.0) -> dict[str, Any]:
        message = await self.receive(timeout)
        assert message["type"] == "next", message
        event: dict[str, Any] = message["payload"]["data"]["customerTimeline"]
        return event

    async def event_where(self, summary: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next event with this summary, skipping others."""
        deadline = time.monotonic() + timeout
        while True:
            event = await self.next_event(max(deadline - time.monotonic(), 0.01))
            if event["summary"] == summary:
                return event

    async def summaries_until(self, wanted: set[str], timeout: float) -> set[str]:
        """The summaries received until all of ``wanted`` arrived (or the
        timeout passed), in whatever order they came."""
        deadline = time.monotonic() + timeout
        seen: set[str] = set()
        while not wanted <= seen and time.monotonic() < deadline:
            try:
                event = await self.next_event(max(deadline - time.monotonic(), 0.01))
            except TimeoutError:
                break
            seen.add(event["summary"])
        return seen

    async def until_live(self, add_tag: Callable[[str], Awaitable[None]]) -> None:
        """Tags until one comes back: the server then listens for sure (it
        starts listening a moment after ``subscribe``, once it read the heads)."""
        for attempt in range(40):
            await add_tag(f"ready-{attempt}")
            try:
                await self.event_where(f"Tag ready-{attempt} added", timeout=0.5)
                return
            except TimeoutError:
                continue
        raise AssertionError("the subscription never delivered")


@asynccontextmanager
async def subscribe(
    url: str,
    customer: str,
    init: dict[str, Any] | None = None,
    query: str = "subscription($id: ID!) { customerTimeline(customerId: $id) { "
    "__typename id source kind summary occurredAt } }",
    variables: dict[str, Any] | None = None,
) -> AsyncIterator[Subscription]:
    async with graphql_socket(url) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": init or AUTH}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), ANSWER_WAIT))
        assert ack["type"] == "connection_ack", ack
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {
                        "query": query,
                        "variables": {"id": customer, **(variables or {})},
                    },
                }
            )
        )
        yield Subscription(ws)
