"""The automations' tests: services of their own on the suite's databases
(retries at once, three attempts, so a dead letter takes one drain), an app
and an admin client on them, a worker drained on demand, and every table —
procrastinate's too — emptied after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from gateway.app import BLUEPRINTS, create_app
from gateway.jobs.worker import drain
from gateway.runtime.services import Services, open_services
from tests.conftest import ADMIN, ADMIN_KEY
from tests.integration.jobs.conftest import empty_jobs

SHOPIFY_SECRET = "shpss_automations_test"
ZENDESK_SECRET = "zd-automations-test"
Drain = Callable[[], Awaitable[None]]


@pytest.fixture(scope="module")
async def auto(services: Services) -> AsyncIterator[Services]:
    settings = services.settings.model_copy(
        update={
            "jobs_max_attempts": 3,
            "jobs_retry_seconds": 0,
            "jobs_stalled_seconds": 1.0,
            "shopify_api_secret": SecretStr(SHOPIFY_SECRET),
            "zendesk_webhook_secret": SecretStr(ZENDESK_SECRET),
            "demo_api_key": SecretStr(ADMIN_KEY),
            "insights_refresh_interval": 0,
        }
    )
    async with open_services(settings) as opened:
        yield opened


@pytest.fixture
async def env(db: Services, auto: Services) -> AsyncIterator[Services]:
    """``auto`` for one test; ``db`` empties the tables afterwards."""
    await empty_jobs(auto)
    yield auto
    await empty_jobs(auto)


@pytest.fixture
def work(env: Services) -> Drain:
    """Run every job due (the runs, their retries), as a worker would."""

    async def run() -> None:
        for _ in range(20):  # a retry is queued as its failed attempt ends
            await drain(env.jobs, env.settings, env, BLUEPRINTS)
            if not await env.jobs.job_manager.list_jobs_async(status="todo"):
                return
        raise AssertionError("jobs still queued after 20 drains")

    return run


@pytest.fixture
async def http(env: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(services=env)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway", headers=ADMIN
    ) as client:
        yield client


@pytest.fixture
def api(http: httpx.AsyncClient) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def run(
        query: str, variables: dict[str, Any] | None = None, key: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        response = await http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
        )
        body: dict[str, Any] = response.json()
        body["status"] = response.status_code
        return body

    return run
