"""The audience tests' services: the gateway with Klaviyo configured (its
simulator over HTTP, driven by a clock the test moves) and Redis for the
guard's budgets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from connectors.klaviyo.simulator.server import KlaviyoSimulator
from connectors.simulator_server import serve_app
from gateway.app import create_app
from gateway.audiences.service import Audiences, audiences_for
from gateway.runtime.services import Services, open_services
from tests.conftest import ADMIN

KEY = "pk_audience_test_key"


class Clock:
    def __init__(self) -> None:
        self.now = 50_040.0  # the start of a minute: a 429 asks for 60 s

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(clock: Clock) -> KlaviyoSimulator:
    return KlaviyoSimulator(api_key=KEY, clock=clock, job_delay=0)


@pytest.fixture
async def configured(
    db: Services, sim: KlaviyoSimulator, single_redis_url: str, cache_prefix: str
) -> AsyncIterator[Services]:
    """The gateway's services with Klaviyo configured and Redis for its budgets
    (the shared server: budgets on a cluster are test_upstream_budget's)."""
    async with serve_app(sim.with_faults(sim.app)) as url:
        settings = db.settings.model_copy(
            update={
                "redis_url": single_redis_url,
                "cache_prefix": cache_prefix,
                "klaviyo_api_key": SecretStr(KEY),
                "klaviyo_url": url,
            }
        )
        async with open_services(settings) as opened:
            yield opened


@pytest.fixture
async def api(configured: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(services=configured))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gw", headers=ADMIN
    ) as client:
        yield client


@pytest.fixture
def audiences(configured: Services) -> Audiences:
    found = audiences_for(configured)
    assert found is not None
    return found
