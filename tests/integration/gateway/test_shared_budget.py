"""One budget for every replica: two gateway processes (uvicorn, one Redis)
asked for twice what Zendesk's budget allows send no more than it, all
together — counted at the simulator — and refuse the rest with
``UPSTREAM_RATE_LIMITED``. Both of Zendesk's budgets: the account's, and
search's own (every ticket read is a search)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from connectors.demo_world import World
from gateway.db.session import upgrade
from gateway.demo.seed import seed
from gateway.demo.simulation import ZENDESK_EMAIL, ZENDESK_TOKEN, Simulators
from gateway.guard.budget import budgets
from gateway.runtime.services import open_services
from gateway.settings import Settings
from tests.conftest import ADMIN, ADMIN_KEY, ANSWER_WAIT

pytestmark = pytest.mark.single_redis

ROOT = Path(__file__).resolve().parents[3]
LIMITS: dict[str, dict[str, float]] = {
    "zendesk": {"zendesk_limit_per_minute": 60, "upstream_budget_share": 0.5},
    "zendesk.search": {
        "zendesk_limit_per_minute": 100_000,
        "zendesk_search_limit_per_minute": 60,
        "upstream_budget_share": 0.5,
    },
}
"""By budget: 30 calls a minute for the whole deployment (7.5 at once, then
0.375 a second), to Zendesk at all, or to its search."""
TICKETS = "query($email: String!) { customer(email: $email) { tickets(first: 3) { edges { node { id } } } } }"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def database(tmp_path: Path, world: World) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    await asyncio.to_thread(upgrade, url)
    async with open_services(Settings(database_url=url)) as services:
        await seed(services.sessions, world)
    return url


@pytest.fixture(params=list(LIMITS))
def limited(request: pytest.FixtureRequest) -> str:
    """The budget the test spends."""
    name: str = request.param
    return name


@pytest.fixture
def gateways(
    limited: str,
    database: str,
    simulators: Simulators,
    redis_url: str,
    cache_prefix: str,
    tmp_path: Path,
) -> Iterator[list[str]]:
    """Two gateway processes on one Redis, their upstream Zendesk only."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "CG_DATABASE_URL": database,
        "CG_REDIS_URL": redis_url,
        "CG_CACHE_PREFIX": cache_prefix,
        "CG_DEMO_API_KEY": ADMIN_KEY,
        "CG_ZENDESK_BASE_URL": simulators.urls["zendesk"],
        "CG_ZENDESK_EMAIL": ZENDESK_EMAIL,
        "CG_ZENDESK_API_TOKEN": ZENDESK_TOKEN,
        # Reads short of budget wait up to half of it, then are refused.
        "CG_READ_DEADLINE_SECONDS": "6",
        "CG_RESPONSE_CACHE_TTL": "0",
        "CG_INSIGHTS_REFRESH_INTERVAL": "0",
        # A reply slow on a loaded machine (the suite's other worker's Redis
        # calls) is waited for: cut off from Redis, each replica spends on
        # its own (test_upstream_budget.py's subject, not this test's).
        "CG_REDIS_TIMEOUT": "5",
        **{f"CG_{k.upper()}": str(v) for k, v in LIMITS[limited].items()},
    }
    servers = []
    urls = []
    logs = []
    for number in range(2):
        port = free_port()
        log = (tmp_path / f"gateway{number}.log").open("w")
        logs.append(log)
        servers.append(
            subprocess.Popen(
                [
                    sys.executable, "-m", "uvicorn", "--factory",
                    "gateway.app:create_app", "--host", "127.0.0.1",
                    "--port", str(port), "--log-level", "warning",
                ],
                cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        )  # fmt: skip
        urls.append(f"http://127.0.0.1:{port}")
    try:
        yield urls
    finally:
        for server in servers:
            server.terminate()
        for server, log in zip(servers, logs, strict=True):
            server.wait(timeout=30)
            log.close()


async def ready(url: str) -> None:
    """Poll without blocking the loop: the simulators run on it."""
    async with httpx.AsyncClient(timeout=ANSWER_WAIT) as client:
        for _ in range(300):
            try:
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url} was not ready in 60 s")


@pytest.fixture
async def clients(gateways: list[str]) -> AsyncIterator[list[httpx.AsyncClient]]:
    await asyncio.gather(*(ready(url) for url in gateways))
    opened = [
        httpx.AsyncClient(base_url=url, headers=ADMIN, timeout=60) for url in gateways
    ]
    yield opened
    for client in opened:
        await client.aclose()


def requesters(simulators: Simulators, world: World) -> list[str]:
    desk = simulators.zendesk.desk
    emails = {desk.users[t["requester_id"]]["email"] for t in desk.tickets.values()}
    return [c.email for c in world.customers if c.email in emails]


async def zendesk_calls_sent(client: httpx.AsyncClient) -> float:
    """What this gateway sent Zendesk, by its own ``/metrics``."""
    text = (await client.get("/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("customer_graph_upstream_requests_total{")
        and 'connector="zendesk"' in line
    )


async def test_two_gateway_processes_share_one_budget(
    clients: list[httpx.AsyncClient],
    simulators: Simulators,
    world: World,
    limited: str,
) -> None:
    emails = requesters(simulators, world)[:40]
    simulators.reset_counts()
    limit = asyncio.Semaphore(8)

    async def view(number: int, email: str) -> dict:
        async with limit:
            response = await clients[number % 2].post(
                "/graphql", json={"query": TICKETS, "variables": {"email": email}}
            )
        assert response.status_code == 200, response.text
        body: dict = response.json()
        return body

    started = time.monotonic()
    answers = await asyncio.gather(*(view(n, e) for n, e in enumerate(emails)))
    elapsed = time.monotonic() - started

    budget = budgets(Settings(**LIMITS[limited]))[limited]
    counted = simulators.zendesk.requests
    sent = counted.total if limited == "zendesk" else counted["search"]
    assert sent <= budget.capacity + budget.rate * elapsed
    assert sent >= budget.capacity - 1  # the budget was spent, not idle
    refused = [
        e
        for body in answers
        for e in body.get("errors", [])
        if e["extensions"]["code"] == "UPSTREAM_RATE_LIMITED"
    ]
    assert refused, "asked for more than the budget, some reads were refused"
    assert all(e["extensions"]["source"] == "zendesk" for e in refused)
    per_gateway = [await zendesk_calls_sent(client) for client in clients]
    # Each gateway was sent half the views; which of them found tokens left is
    # a matter of timing. The bound above holds for both together: with a
    # bucket each they could have sent twice the capacity.
    assert sum(per_gateway) == counted.total, per_gateway
