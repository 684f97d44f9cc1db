"""``customer-graph demo`` with an upstream missing: it starts, says which
upstream is missing in one log line, and everything else answers — whether the
operator pointed the upstream at a closed port or its simulator cannot start."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from rich.console import Console
from strawberry.relay import to_base64

from bench.server import free_port
from connectors.demo_world import World
from gateway.db.session import upgrade
from gateway.demo import simulation
from gateway.demo.command import run_demo
from gateway.settings import Settings
from tests.conftest import ANSWER_WAIT

KEY = "cg_demo_test_key"
VIEW = """query($id: ID!) { customer(id: $id) { email
  orders(first: 1) { totalCount } tickets(first: 1) { edges { node { id } } }
  lastSeenAt } }"""
CUSTOMER = to_base64("Customer", 15)
"""Known to all three simulators of the demo world (seed 42, 20 customers):
``bench.subject.richest_customer``'s pick."""


@asynccontextmanager
async def running_demo(tmp_path: Path, **settings: Any) -> AsyncIterator[str]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    # Several test workers share two cores: a cold view may wait seconds for
    # CPU, past the 2 s read deadline (seen: zendesk's UPSTREAM_TIMEOUT).
    settings.setdefault("read_deadline_seconds", 30.0)
    await asyncio.to_thread(upgrade, database_url)
    port = free_port()
    demo = asyncio.create_task(
        run_demo(
            Settings(
                database_url=database_url, demo_api_key=SecretStr(KEY), **settings
            ),
            port=port,
            size=20,
            world_seed=42,
            on_seeded=lambda n: None,
            console=Console(file=io.StringIO()),
        )
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=ANSWER_WAIT) as http:
            for _ in range(600):
                if demo.done():
                    demo.result()  # the demo failed: raise its error
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        yield url
    finally:
        demo.cancel()
        await asyncio.gather(demo, return_exceptions=True)


async def view(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(
        base_url=url,
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=ANSWER_WAIT,
    ) as http:
        response = await http.post(
            "/graphql", json={"query": VIEW, "variables": {"id": CUSTOMER}}
        )
    body: dict[str, Any] = response.json()
    return body


def demo_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "gateway.demo"]


async def test_the_demo_starts_without_an_upstream_whose_port_is_closed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    closed = free_port()
    with caplog.at_level(logging.WARNING, logger="gateway.demo"):
        async with running_demo(
            tmp_path, shopify_base_url=f"http://127.0.0.1:{closed}"
        ) as url:
            body = await view(url)
    assert demo_lines(caplog) == [
        f"demo: shopify is missing, nothing listens at 127.0.0.1:{closed} "
        "(ConnectionRefusedError); its fields answer null"
    ]
    assert "errors" not in body, body
    customer = body["data"]["customer"]
    assert customer["orders"] is None
    assert customer["tickets"]["edges"]
    assert customer["lastSeenAt"]


async def test_the_demo_starts_when_a_simulator_cannot_start(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(world: World, latency: float) -> simulation.Simulator:
        raise RuntimeError("the simulator's parser is not installed")

    simulators: dict[str, Callable[..., simulation.Simulator]] = {
        **simulation.SIMULATORS,
        "zendesk": broken,
    }
    monkeypatch.setattr("gateway.demo.upstreams.SIMULATORS", simulators)
    with caplog.at_level(logging.WARNING, logger="gateway.demo"):
        async with running_demo(tmp_path) as url:
            body = await view(url)
    [line] = demo_lines(caplog)
    assert line.startswith("demo: zendesk is missing, its simulator did not start")
    assert "errors" not in body, body
    customer = body["data"]["customer"]
    assert customer["tickets"] is None
    assert customer["orders"]["totalCount"] >= 1
    assert customer["lastSeenAt"]
