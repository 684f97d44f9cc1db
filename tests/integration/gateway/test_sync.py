"""``customer-graph sync``: backfills from the simulators into both databases."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from connectors.demo_world import World
from connectors.shopify.client import ShopifyConnector
from connectors.shopify.simulator.data import customer_number
from gateway.cli.main import app
from gateway.db import models
from gateway.demo.seed import seed
from gateway.demo.simulation import Simulators, simulated_upstreams
from gateway.runtime.services import Services
from gateway.runtime.upstreams import Upstreams
from gateway.sync.backfill import (
    BadSyncInput,
    link_customers,
    parse_since,
    sync_shopify,
)
from tests.integration.gateway.simulated import connectors_for, count, services_on

STORE = World(seed=9, size=12)
OURS = World(seed=9, size=6, now=STORE.now)
"""Our CRM knows the first six of the store's customers."""
NO_EMAIL = 11
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
runner = CliRunner()


@pytest.fixture(scope="module")
async def simulators() -> AsyncIterator[Simulators]:
    async with simulated_upstreams(STORE) as running:
        record = running.shopify.store.customers[customer_number(NO_EMAIL)]
        record.update(email=None, defaultEmailAddress=None)
        yield running


@pytest.fixture(scope="module")
async def upstreams(simulators: Simulators) -> AsyncIterator[Upstreams]:
    async with connectors_for(simulators) as built:
        yield built


@pytest.fixture
async def wired(simulators: Simulators, db: Services, upstreams: Upstreams) -> Services:
    await seed(db.sessions, OURS)
    return services_on(simulators, db, upstreams)


def shopify(wired: Services) -> ShopifyConnector:
    assert wired.upstreams.shopify is not None
    return wired.upstreams.shopify


async def test_shopify_sync_links_known_customers_and_creates_the_others(
    simulators: Simulators, wired: Services
) -> None:
    report = await sync_shopify(wired.sessions, shopify(wired), LONG_AGO)
    in_store = len(simulators.shopify.store.customers)
    assert (report.seen, report.skipped) == (in_store, 1)
    assert report.linked == in_store - 1
    assert len(set(report.touched)) == report.linked  # announced as changes
    assert report.created == in_store - 1 - len(OURS.customers)
    assert await count(wired, models.Customer) == len(OURS.customers) + report.created
    async with wired.sessions() as session:
        links = (await session.scalars(select(models.Identity))).all()
    # ours found by email; the others created from the store's record
    by_rule = Counter(link.linked_by for link in links)
    assert by_rule == {"email": len(OURS.customers), "external_id": report.created}
    for link in links:
        assert link.explanation is not None
        assert link.explanation["rule"] == link.linked_by
        assert link.explanation["source"] == "shopify"
        assert link.explanation["strength"] == "strong"
    assert {link.external_id for link in links} == {
        simulators.shopify.customer_gid(c.index)
        for c in STORE.customers
        if customer_number(c.index) in simulators.shopify.store.customers
        and c.index != NO_EMAIL
    }


async def test_a_second_shopify_sync_creates_nothing_new(wired: Services) -> None:
    await sync_shopify(wired.sessions, shopify(wired), LONG_AGO)
    customers = await count(wired, models.Customer)
    again = await sync_shopify(wired.sessions, shopify(wired), LONG_AGO, full=True)
    assert (again.created, again.linked) == (0, 0)
    assert again.already_linked == again.seen - again.skipped
    assert await count(wired, models.Customer) == customers


async def test_shopify_syncs_at_once_create_and_link_each_customer_once(
    simulators: Simulators, wired: Services
) -> None:
    """Every run meets the others' customers and links: the losing batches roll
    back and run again instead of failing, and count only what they wrote."""
    runs = 4
    reports = await asyncio.gather(
        *(
            sync_shopify(wired.sessions, shopify(wired), LONG_AGO, full=True)
            for _ in range(runs)
        )
    )
    in_store = len(simulators.shopify.store.customers)
    assert [r.seen for r in reports] == [in_store] * runs
    assert sum(r.created for r in reports) == in_store - 1 - len(OURS.customers)
    assert sum(r.linked for r in reports) == in_store - 1
    assert await count(wired, models.Customer) == in_store - 1
    assert await count(wired, models.Identity) == in_store - 1


async def test_shopify_sync_resumes_from_where_the_last_run_stopped(
    simulators: Simulators, wired: Services
) -> None:
    await sync_shopify(wired.sessions, shopify(wired), LONG_AGO)
    stamps = sorted(c["_updated"] for c in simulators.shopify.store.customers.values())
    async with wired.sessions() as session:
        state = await session.get(models.SyncState, "shopify")
        assert state is not None
        assert state.synced_until == stamps[-1].replace(microsecond=0)
    async with wired.sessions() as session, session.begin():
        state = await session.get(models.SyncState, "shopify")
        assert state is not None
        state.synced_until = stamps[5]
    resumed = await sync_shopify(wired.sessions, shopify(wired), LONG_AGO)
    assert resumed.started_from == stamps[5] - timedelta(seconds=1)
    assert resumed.seen == sum(s > stamps[5] - timedelta(seconds=1) for s in stamps)
    assert resumed.seen < len(stamps)
    full = await sync_shopify(wired.sessions, shopify(wired), LONG_AGO, full=True)
    assert full.seen == len(stamps)


async def test_zendesk_sync_links_our_customers_by_email_then_phone(
    wired: Services,
) -> None:
    assert wired.upstreams.zendesk is not None
    report = await link_customers(wired.sessions, wired.upstreams.zendesk)
    assert report.seen == len(OURS.customers)
    assert report.linked + report.unmatched == report.seen
    assert report.linked > 0
    assert await count(wired, models.Identity, models.Identity.source == "zendesk") == (
        report.linked
    )
    again = await link_customers(wired.sessions, wired.upstreams.zendesk)
    assert (again.linked, again.already_linked) == (0, report.linked)
    assert len(report.touched) == report.linked
    assert again.touched == []
    async with wired.sessions() as session:
        state = await session.get(models.SyncState, "zendesk")
    assert state is not None
    assert state.cursor is None


def test_since_reads_days_hours_and_iso_dates() -> None:
    now = datetime(2025, 6, 1, 12, tzinfo=UTC)
    assert parse_since("60d", now) == now - timedelta(days=60)
    assert parse_since("12h", now) == now - timedelta(hours=12)
    assert parse_since("2025-01-31", now) == datetime(2025, 1, 31, tzinfo=UTC)
    with pytest.raises(BadSyncInput):
        parse_since("two months", now)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sync", "freshdesk"], "Unknown source"),
        (["sync", "shopify", "--since", "soon"], "--since"),
    ],
)
def test_sync_rejects_bad_input_with_exit_code_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.parametrize("source", ["shopify", "posthog"])
async def test_the_sync_command_prints_a_summary(
    simulators: Simulators,
    wired: Services,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
) -> None:
    for name, value in wired.settings.model_dump().items():
        if value is not None and name.split("_")[0] in (source, "database"):
            secret = getattr(value, "get_secret_value", None)
            monkeypatch.setenv(f"CG_{name.upper()}", secret() if secret else str(value))
    result = await asyncio.to_thread(
        runner.invoke, app, ["sync", source, "--since", "9000d"]
    )
    assert result.exit_code == 0, result.output
    assert f"sync {source}" in result.output
    assert "newly linked" in result.output
    assert await count(wired, models.Identity, models.Identity.source == source) > 0
