"""``customer-graph mirror backfill``: PostHog's history into the event mirror
from the simulator's query API — page by page, each event once (by uuid),
resuming where an interrupted run stopped, and within PostHog's one budget as
background work (time passes by refilling it: no test waits). Both
databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from connectors.demo_world import World
from connectors.errors import ConnectorError
from connectors.posthog.client import PostHogConnector
from connectors.posthog.mapping import kept_properties
from connectors.retry import RetryPolicy
from connectors.scope import Priority
from gateway.cli.main import app
from gateway.db import models
from gateway.demo.simulation import (
    GENEROUS,
    POSTHOG_KEY,
    Simulators,
    simulated_upstreams,
)
from gateway.guard.budget import Budget
from gateway.guard.upstreams import UpstreamGuard
from gateway.mirror.backfill import STATE, BackfillReport, backfill_events
from gateway.runtime.services import Services
from gateway.runtime.upstreams import Upstreams
from tests.integration.gateway.simulated import connectors_for, count, services_on

WORLD = World(seed=5, size=6)
SINCE = WORLD.now - timedelta(days=365)
runner = CliRunner()


@pytest.fixture(scope="module")
async def simulators() -> AsyncIterator[Simulators]:
    async with simulated_upstreams(
        WORLD, posthog_queries_per_hour=GENEROUS
    ) as running:  # the backfill's own budget has a test of its own here
        yield running


@pytest.fixture(scope="module")
async def upstreams(simulators: Simulators) -> AsyncIterator[Upstreams]:
    async with connectors_for(simulators) as built:
        yield built


@pytest.fixture
async def wired(
    simulators: Simulators, db: Services, upstreams: Upstreams
) -> AsyncIterator[Services]:
    simulators.reset_counts()
    yield services_on(simulators, db, upstreams)
    simulators.heal()


@pytest.fixture
async def impatient(simulators: Simulators) -> AsyncIterator[PostHogConnector]:
    """A connector that does not retry: one failure stops a run."""
    connector = PostHogConnector(
        simulators.urls["posthog"], 1, POSTHOG_KEY, retry=RetryPolicy(attempts=1)
    )
    yield connector
    await connector.aclose()


def posthog(services: Services) -> PostHogConnector:
    assert services.upstreams.posthog is not None
    return services.upstreams.posthog


def history(simulators: Simulators) -> dict[str, dict[str, Any]]:
    """Every event the simulated PostHog holds, by uuid."""
    return {e["uuid"]: e for e in simulators.posthog.analytics.rows(None)}


async def mirror(services: Services) -> dict[str, models.PostHogEvent]:
    async with services.sessions() as session:
        rows = await session.scalars(select(models.PostHogEvent))
        return {row.uuid: row for row in rows}


async def run(
    services: Services, connector: PostHogConnector, **options: Any
) -> BackfillReport:
    settings = {
        "since": SINCE,
        "full": False,
        "page_size": 100,
        **options,
    }
    return await backfill_events(services.sessions, connector, **settings)


async def test_a_backfill_reads_every_event_page_by_page(
    simulators: Simulators, wired: Services
) -> None:
    expected = history(simulators)
    report = await run(wired, posthog(wired))
    stored = await mirror(wired)
    assert set(stored) == set(expected)
    assert report.stored == len(expected)
    pages = len(expected) / 99  # each page after the first re-reads its boundary
    assert len(expected) / 100 <= report.queries <= pages + 2
    assert simulators.posthog.requests["query"] == report.queries
    for uuid, row in stored.items():
        event = expected[uuid]
        props = event["properties"]
        assert (row.distinct_id, row.event, row.occurred_at, row.via) == (
            event["distinct_id"],
            event["event"],
            event["timestamp"],
            "backfill",
        )
        assert (row.url, row.path, row.session_id) == (
            props.get("$current_url"),
            props.get("$pathname"),
            props.get("$session_id"),
        )
        assert row.properties == kept_properties(props)
    async with wired.sessions() as session:
        state = await session.get(models.SyncState, STATE)
    assert state is not None
    assert (state.cursor, state.synced_until) == (None, report.until)


async def test_running_again_stores_nothing_new(
    simulators: Simulators, wired: Services
) -> None:
    first = await run(wired, posthog(wired))
    again = await run(wired, posthog(wired))
    assert again.stored == 0
    assert again.started_from == first.until - timedelta(hours=1)
    full = await run(wired, posthog(wired), full=True, page_size=10_000)
    assert (full.stored, full.read, full.queries) == (0, len(history(simulators)), 1)
    assert await count(wired, models.PostHogEvent) == first.stored


async def test_an_interrupted_backfill_resumes_where_it_stopped(
    simulators: Simulators, wired: Services, impatient: PostHogConnector
) -> None:
    pages = 0

    def fail_after_two(read: int) -> None:
        nonlocal pages
        pages += 1
        if pages == 2:
            simulators.posthog.fail_next(1, status=503)

    with pytest.raises(ConnectorError):
        await run(wired, impatient, progress=fail_after_two)
    stored = await count(wired, models.PostHogEvent)
    assert 100 < stored < len(history(simulators))
    async with wired.sessions() as session:
        state = await session.get(models.SyncState, STATE)
    assert state is not None
    assert state.cursor is not None
    assert state.synced_until is None
    resumed = await run(wired, impatient)
    assert resumed.started_from == datetime.fromisoformat(state.cursor)
    assert resumed.read < len(history(simulators))
    assert set(await mirror(wired)) == set(history(simulators))
    assert stored + resumed.stored == len(history(simulators))


class PassingTime:
    """The backfill's sleep: instead of waiting, the budget gets what it
    would have refilled meanwhile."""

    def __init__(self, guard: UpstreamGuard, rate: float) -> None:
        self.guard = guard
        self.rate = rate
        self.slept: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        await self.guard.buckets["posthog"].adjust("posthog", -seconds * self.rate)


async def test_the_backfill_spends_posthogs_one_budget_as_background_work(
    simulators: Simulators, wired: Services
) -> None:
    """4 queries at once, barely refilled, half of it kept for the views: the
    backfill sends two, then each query the budget cannot cover within the
    background deadline is waited for and asked again — the run never fails
    for it, and never spends the views' half."""
    rate = 0.001
    guard = UpstreamGuard(
        {"posthog": Budget(rate=rate, capacity=4)},
        {},
        redis=None,
        prefix="backfill",
        reserves={
            Priority.INTERACTIVE: 0.0,
            Priority.FALLBACK: 0.25,
            Priority.BACKGROUND: 0.5,
        },
        background_deadline=5.0,
    )
    connector = PostHogConnector(simulators.urls["posthog"], 1, POSTHOG_KEY)
    connector.http.guard = guard
    passing = PassingTime(guard, rate)
    try:
        report = await run(wired, connector, page_size=30, sleep=passing)
    finally:
        await connector.aclose()
    assert report.queries >= 5
    assert simulators.posthog.requests["query"] == report.queries  # none refused
    assert report.refused == len(passing.slept) == report.queries - 2
    assert report.waited == pytest.approx(sum(passing.slept))
    assert all(wait == pytest.approx(1 / rate, rel=0.01) for wait in passing.slept)
    assert set(await mirror(wired)) == set(history(simulators))
    assert await guard.buckets["posthog"].take("posthog", 2) == 0  # the views' half


async def test_events_sharing_one_timestamp_past_a_page_are_all_read(
    simulators: Simulators, wired: Services
) -> None:
    analytics = simulators.posthog.analytics
    person = analytics.persons[0]
    moment = SINCE + timedelta(days=1)
    same = [
        analytics.capture(person.distinct_ids[0], "Coupon Applied", {"n": n}, moment)
        for n in range(7)
    ]
    report = await run(wired, posthog(wired), page_size=3)
    stored = await mirror(wired)
    assert {e["uuid"] for e in same} <= set(stored)
    assert set(stored) == set(history(simulators))
    assert report.stored == len(stored)


def configure(monkeypatch: pytest.MonkeyPatch, services: Services) -> None:
    """The CLI's environment: the test database and the simulated PostHog."""
    for name, value in services.settings.model_dump().items():
        if value is not None and name.split("_")[0] in ("posthog", "database"):
            secret = getattr(value, "get_secret_value", None)
            monkeypatch.setenv(f"CG_{name.upper()}", secret() if secret else str(value))


async def test_the_backfill_command_prints_a_summary(
    simulators: Simulators, wired: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, wired)
    result = await asyncio.to_thread(
        runner.invoke,
        app,
        ["mirror", "backfill", "--since", "400d", "--page-size", "50000"],
    )
    assert result.exit_code == 0, result.output
    assert "mirror backfill" in result.output
    assert "new events stored" in result.output
    assert await count(wired, models.PostHogEvent) == len(history(simulators))


async def test_a_failing_posthog_stops_the_command_with_exit_1(
    simulators: Simulators, wired: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, wired)
    simulators.posthog.fail_next(10, status=401)
    result = await asyncio.to_thread(runner.invoke, app, ["mirror", "backfill"])
    assert result.exit_code == 1, result.output
    assert "Progress is saved" in result.output


@pytest.mark.parametrize(
    ("args", "environment", "code", "message"),
    [
        (["--since", "soon"], {}, 2, "--since"),
        ([], {"CG_POSTHOG_HOST": ""}, 1, "PostHog is not configured"),
    ],
)
async def test_the_backfill_command_refuses_what_it_cannot_do(
    wired: Services,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    environment: dict[str, str],
    code: int,
    message: str,
) -> None:
    configure(monkeypatch, wired)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    result = await asyncio.to_thread(runner.invoke, app, ["mirror", "backfill", *args])
    assert result.exit_code == code, result.output
    assert message in result.output
