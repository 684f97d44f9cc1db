"""``customer-graph mirror backfill``: PostHog's history into the event mirror
from the simulator's query API — page by page, each event once (by uuid),
resuming where an interrupted run stopped, and never more queries an hour
than its budget (a fake clock: no test waits). Both databases."""

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
from connectors.models import ActivityEvent
from connectors.posthog.client import PostHogConnector
from connectors.posthog.mapping import kept_properties
from connectors.retry import RetryPolicy
from gateway.cli.main import app
from gateway.db import models
from gateway.db.models import utcnow
from gateway.demo.simulation import (
    GENEROUS,
    POSTHOG_KEY,
    Simulators,
    simulated_upstreams,
)
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
        "queries_per_hour": 3_600_000,
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


class FakeClock:
    """Time that passes only when the backfill sleeps."""

    def __init__(self) -> None:
        self.now = utcnow()
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


async def test_the_backfill_sends_no_more_queries_an_hour_than_its_budget(
    simulators: Simulators, wired: Services
) -> None:
    clock = FakeClock()
    sent: list[datetime] = []
    connector = posthog(wired)
    read = connector.events_between

    async def recorded(
        since: datetime, until: datetime, *, limit: int
    ) -> list[ActivityEvent]:
        sent.append(clock())
        return await read(since, until, limit=limit)

    connector.events_between = recorded  # type: ignore[method-assign]
    try:
        report = await run(
            wired,
            connector,
            page_size=30,
            queries_per_hour=4,
            clock=clock,
            sleep=clock.sleep,
        )
        assert report.queries >= 5
        for earlier, later in zip(sent, sent[4:], strict=False):
            assert later - earlier >= timedelta(hours=1)  # 4 at most in any hour
        assert report.waited == pytest.approx(sum(clock.slept))
        # a new run keeps the pace of the last one's final query
        queries = len(sent)
        await run(wired, connector, queries_per_hour=4, clock=clock, sleep=clock.sleep)
        assert sent[queries] - sent[queries - 1] >= timedelta(minutes=15)
    finally:
        del connector.events_between


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
