"""Every connector against an upstream that misbehaves below its envelope
(``connectors.simulator_server.Fault``) and against the clock: an unreadable
answer is ``UPSTREAM_BAD_RESPONSE`` and not retried, a hung or trickling
upstream is cut off at the call's deadline, and a ``Retry-After`` that would
outlast the deadline is not waited for."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from connectors.demo_world import World
from connectors.errors import UpstreamBadResponse, UpstreamRateLimited, UpstreamTimeout
from connectors.scope import Priority, call_scope
from connectors.simulator_server import Fault, serve_app
from tests.integration.connectors.harness import ConnectorHarness
from tests.integration.connectors.test_conformance import HARNESSES

DEADLINE = 0.5
LATE = DEADLINE + 1.0
"""Generous: what "answered within the deadline" is held to."""


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=5, size=20)


@pytest.fixture(params=HARNESSES, ids=lambda h: h.name)
def harness(request: pytest.FixtureRequest) -> ConnectorHarness:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def upstream(
    harness: ConnectorHarness, world: World
) -> AsyncIterator[tuple[Any, Any]]:
    simulator = harness.simulator(world)
    async with serve_app(simulator.with_faults(harness.app(simulator))) as base_url:
        client = harness.connector(simulator, base_url)
        yield simulator, client
        simulator.heal()
        await client.aclose()


UNREADABLE = [
    Fault.MALFORMED_JSON,
    Fault.TRUNCATED_BODY,
    Fault.HTML_PAGE,
    Fault.WRONG_CONTENT_TYPE,
    Fault.ERROR_BODY,
]


@pytest.mark.parametrize("fault", UNREADABLE)
async def test_an_unreadable_answer_is_a_bad_response_and_not_retried(
    harness: ConnectorHarness, upstream: tuple[Any, Any], fault: Fault
) -> None:
    simulator, client = upstream
    simulator.inject(fault)
    with pytest.raises(UpstreamBadResponse) as raised:
        await client.customers_by_ids([harness.existing_id(simulator)])
    assert raised.value.code == "UPSTREAM_BAD_RESPONSE"
    assert harness.requests(simulator) == 1
    found = await client.customers_by_ids([harness.existing_id(simulator)])
    assert found[0] is not None  # the next answer is read as usual


@pytest.mark.parametrize("fault", [Fault.HANG, Fault.SLOW_BODY])
async def test_a_hung_or_trickling_upstream_is_cut_off_at_the_deadline(
    harness: ConnectorHarness, upstream: tuple[Any, Any], fault: Fault
) -> None:
    simulator, client = upstream
    simulator.inject(fault, n=10)
    started = time.monotonic()
    with (
        call_scope(DEADLINE, Priority.INTERACTIVE),
        pytest.raises(UpstreamTimeout) as raised,
    ):
        await client.customers_by_ids([harness.existing_id(simulator)])
    assert time.monotonic() - started < LATE
    assert raised.value.code == "UPSTREAM_TIMEOUT"
    assert harness.requests(simulator) == 1  # no time was left to try again


def throttle_for_long(harness: ConnectorHarness, simulator: Any) -> None:
    """Make the next reads wait far longer than the deadline: a 429 with
    ``Retry-After: 30``; Shopify's answer is THROTTLED with a bucket that
    refills a point a second."""
    if harness.name == "shopify":
        simulator.bucket.restore_rate = 1.0
        simulator.drain()
    else:
        simulator.force_rate_limit(5, retry_after=30)


async def test_a_retry_after_beyond_the_deadline_is_not_waited(
    harness: ConnectorHarness, upstream: tuple[Any, Any]
) -> None:
    simulator, client = upstream
    throttle_for_long(harness, simulator)
    started = time.monotonic()
    with (
        call_scope(DEADLINE, Priority.INTERACTIVE),
        pytest.raises(UpstreamRateLimited),
    ):
        await client.customers_by_ids([harness.existing_id(simulator)])
    assert time.monotonic() - started < LATE
    assert harness.requests(simulator) == 1


async def test_a_storm_of_429s_answers_within_the_deadline(
    harness: ConnectorHarness, upstream: tuple[Any, Any]
) -> None:
    """Retried while time is left: then the 429's code, or UPSTREAM_TIMEOUT
    when the last wait used the time up."""
    simulator, client = upstream
    simulator.force_rate_limit(1000, retry_after=0)
    started = time.monotonic()
    with (
        call_scope(DEADLINE, Priority.INTERACTIVE),
        pytest.raises((UpstreamRateLimited, UpstreamTimeout)),
    ):
        await client.customers_by_ids([harness.existing_id(simulator)])
    assert time.monotonic() - started < LATE
