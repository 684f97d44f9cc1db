"""The privacy requests' tests: the three simulators (one set per database,
since erasures change their world), services pointed at them whose failed
jobs are retried at once, an admin client, a worker drained on demand, and
a customer linked to every upstream with a row in every table that holds
customers' data."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, insert, select

from connectors.demo_world import World
from connectors.zendesk.simulator.data import USER_ID_BASE
from gateway.app import BLUEPRINTS, create_app
from gateway.db import models
from gateway.demo.simulation import Simulators, simulated_upstreams
from gateway.jobs.worker import drain
from gateway.privacy.erasure import BY_CUSTOMER_ID, BY_UPSTREAM_ID, NULLED
from gateway.runtime.services import Services, open_services
from tests.conftest import ADMIN
from tests.integration.jobs.conftest import empty_jobs

WORLD = World(seed=11, size=16)
NOW = datetime(2026, 11, 1, tzinfo=UTC)
Api = Callable[..., Awaitable[dict[str, Any]]]
Drain = Callable[[], Awaitable[None]]


@pytest.fixture(scope="module")
async def simulators(database_url: str) -> AsyncIterator[Simulators]:
    async with simulated_upstreams(WORLD) as running:
        yield running


@pytest.fixture(scope="module")
async def priv(services: Services, simulators: Simulators) -> AsyncIterator[Services]:
    base = services.settings.model_copy(
        update={"jobs_retry_seconds": 0, "jobs_max_attempts": 3}
    )
    async with open_services(simulators.settings(base)) as opened:
        yield opened


@pytest.fixture
async def env(
    db: Services, priv: Services, simulators: Simulators
) -> AsyncIterator[Services]:
    """``priv`` for one test; ``db`` empties the tables afterwards."""
    await empty_jobs(priv)
    yield priv
    await empty_jobs(priv)
    await priv.audit.flush()  # before ``db`` empties the tables
    simulators.heal()


@pytest.fixture
def work(env: Services) -> Drain:
    """Run every job due, its retries too, as a worker would."""

    async def run() -> None:
        for _ in range(10):
            await drain(env.jobs, env.settings, env, BLUEPRINTS)
            if not await env.jobs.job_manager.list_jobs_async(status="todo"):
                return
        raise AssertionError("jobs still queued after 10 drains")

    return run


@pytest.fixture
async def gateway(env: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(services=env)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway", headers=ADMIN
    ) as http:
        yield http


@pytest.fixture
def api(gateway: httpx.AsyncClient) -> Api:
    async def run(
        query: str, variables: dict[str, Any] | None = None, key: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        response = await gateway.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
        )
        body: dict[str, Any] = response.json()
        body["status"] = response.status_code
        return body

    return run


def linked_everywhere(simulators: Simulators) -> list[int]:
    """World customers every simulator knows, in order."""
    return [
        c.index
        for c in WORLD.customers
        if simulators.shopify.customer_gid(c.index) in simulators.shopify.store.by_gid
        and USER_ID_BASE + c.index in simulators.zendesk.desk.users
        and c.email in simulators.posthog.analytics.by_distinct_id
    ]


def links_of(simulators: Simulators, index: int) -> dict[str, str]:
    return {
        "shopify": simulators.shopify.customer_gid(index),
        "zendesk": str(USER_ID_BASE + index),
        "posthog": WORLD.customers[index].email,
    }


def _rows(cid: int, links: dict[str, str], parents: dict[str, int]) -> dict[str, Any]:
    """One row per table for customer ``cid`` (unique per customer)."""
    day = timedelta(days=1)
    return {
        "addresses": {"customer_id": cid, "kind": "shipping", "country": "DE"},
        "identity_checks": {"customer_id": cid, "source": "klaviyo", "checked_at": NOW},
        "tags": {"customer_id": cid, "name": "vip"},
        "notes": {"customer_id": cid, "author": "agent", "body": "Called back."},
        "consents": {
            "customer_id": cid,
            "channel": "email",
            "state": "granted",
            "source": "crm",
        },
        "loyalty_entries": {"customer_id": cid, "points": 5, "reason": "welcome"},
        "preferences": {"customer_id": cid, "key": "size", "value": "M"},
        "tasks": {"customer_id": cid, "title": "Call back"},
        "customer_events": {"customer_id": cid, "kind": "note_added", "summary": "n"},
        "tracked_events": {
            "customer_id": cid,
            "user_id": links.get("segment"),
            "anonymous_id": f"anon-{cid}",
            "message_id": f"m-{cid}",
            "type": "track",
            "occurred_at": NOW,
        },
        "order_facts": {
            "order_id": f"o-{cid}",
            "customer_id": cid,
            "processed_at": NOW,
            "total": Decimal("12.50"),
            "currency": "EUR",
        },
        "order_line_facts": {
            "order_id": f"o-{cid}",
            "category": "tops",
            "customer_id": cid,
            "quantity": 1,
            "spend": Decimal("12.50"),
        },
        "order_item_facts": {
            "order_id": f"o-{cid}",
            "sku": "SKU-1",
            "customer_id": cid,
            "processed_at": NOW,
            "quantity": 1,
        },
        "checkout_facts": {
            "checkout_id": f"c-{cid}",
            "customer_id": cid,
            "created_at": NOW,
        },
        "engagement_facts": {"customer_id": cid},
        "customer_traits": {
            "customer_id": cid,
            "lifetime_value": Decimal(1),
            "order_count": 1,
            "open_tickets": 0,
            "ticket_count": 0,
            "computed_at": NOW,
        },
        "customer_rfm": {
            "customer_id": cid,
            "recency": 1,
            "frequency": 1,
            "monetary": 1,
            "segment": "champions",
            "revenue": Decimal(1),
            "computed_at": NOW,
        },
        "insights_pending": {"customer_id": cid, "since": NOW},
        "segment_members": {
            "segment_id": parents["segments"],
            "customer_id": cid,
            "since": NOW,
        },
        "segment_membership_events": {
            "customer_id": cid,
            "segment": "vips",
            "entered": True,
            "occurred_at": NOW,
        },
        "automation_members": {
            "automation_id": parents["automations"],
            "customer_id": cid,
        },
        "automation_runs": {
            "automation_id": parents["automations"],
            "customer_id": cid,
            "occasion": f"order:{cid}",
            "trigger": "orderPlaced",
        },
        "audience_members": {
            "connection_id": parents["audience_connections"],
            "customer_id": cid,
            "state": "subscribed",
            "synced_at": NOW,
        },
        "promo_codes": {
            "customer_id": cid,
            "code": f"CODE-{cid}",
            "percentage": 10,
            "collection_id": "gid://shopify/Collection/1",
            "starts_at": NOW,
            "ends_at": NOW + day,
        },
        "outbound_messages": {
            "customer_id": cid,
            "msg_id": f"msg_{cid}",
            "event_type": "customer.updated",
            "body": "{}",
        },
        "posthog_events": {
            "uuid": str(uuid.uuid4()),
            "distinct_id": links.get("posthog"),
            "event": "$pageview",
            "occurred_at": NOW,
            "via": "backfill",
        },
        "posthog_person_checks": {
            "distinct_id": links.get("posthog"),
            "checked_at": NOW,
        },
        "zendesk_ticket_changes": {
            "ticket_id": f"t-{cid}",
            "requester_id": links.get("zendesk"),
            "changed_at": NOW,
        },
        "webhook_deliveries": {
            "customer_id": cid,
            "source": "shopify",
            "delivery_id": str(uuid.uuid4()),  # kept after an erasure
            "topic": "customers/update",
        },
    }


UPSTREAM_KEYED = {
    name: source for name, source, _ in BY_UPSTREAM_ID if name not in BY_CUSTOMER_ID
}
"""Tables a customer has rows in only through an upstream's id."""
PLANTED = tuple(
    _rows(
        0,
        dict.fromkeys(("posthog", "zendesk"), ""),
        dict.fromkeys(("segments", "automations", "audience_connections"), 0),
    )
)
"""Every table a planted customer has a row in (besides customers and
identities)."""


async def _parents(session: Any) -> dict[str, int]:
    tables = models.Base.metadata.tables
    found: dict[str, int] = {}
    for name, values in (
        ("segments", {"name": "vips", "filter": {}}),
        (
            "automations",
            {
                "name": "a",
                "trigger": {"orderPlaced": True},
                "actions": [{"tag": {"tags": ["x"]}}],
                "created_by": "t",
            },
        ),
    ):
        existing = await session.scalar(select(tables[name].c.id))
        found[name] = existing or await session.scalar(
            insert(tables[name]).values(values).returning(tables[name].c.id)
        )
    connections = tables["audience_connections"]
    found["audience_connections"] = await session.scalar(
        select(connections.c.id)
    ) or await session.scalar(
        insert(connections)
        .values(segment_id=found["segments"], list_id="L1", list_name="VIPs")
        .returning(connections.c.id)
    )
    return found


async def plant(services: Services, email: str, links: dict[str, str]) -> int:
    """A customer with ``links`` and a row in every table of ``PLANTED``
    (those keyed by an upstream's id: when linked to it)."""
    tables = models.Base.metadata.tables
    async with services.sessions() as session, session.begin():
        customer = models.Customer(email=email, first_name="Ana", last_name="Lind")
        session.add(customer)
        await session.flush()
        for source, external_id in links.items():
            session.add(
                models.Identity(
                    customer_id=customer.id, source=source, external_id=external_id
                )
            )
        parents = await _parents(session)
        for name, row in _rows(customer.id, links, parents).items():
            if name in UPSTREAM_KEYED and UPSTREAM_KEYED[name] not in links:
                continue  # keyed by an upstream the customer is not linked to
            await session.execute(insert(tables[name]).values(row))
        return customer.id


async def rows_of(
    services: Services, customer_id: int, links: dict[str, str]
) -> dict[str, int]:
    """The customer's rows per table (by id, or by its upstream ids)."""
    tables = models.Base.metadata.tables
    counts: dict[str, int] = {}
    async with services.sessions() as session:
        for name in (*BY_CUSTOMER_ID, *NULLED):
            table = tables[name]
            key = table.c.id if name == "customers" else table.c.customer_id
            counts[name] = (
                await session.scalar(
                    select(func.count()).select_from(table).where(key == customer_id)
                )
                or 0
            )
        for name, source, column in BY_UPSTREAM_ID:
            if source not in links:
                continue
            table = tables[name]
            counts[f"{name}.{column}"] = (
                await session.scalar(
                    select(func.count())
                    .select_from(table)
                    .where(table.c[column] == links[source])
                )
                or 0
            )
    return counts


async def orphan_events(services: Services, user_id: str, anonymous_id: str) -> None:
    """Events the ingest stored with no customer: a userId not linked yet, a
    browser's anonymous id before it identified."""
    async with services.sessions() as session, session.begin():
        for n, ids in enumerate(({"user_id": user_id}, {"anonymous_id": anonymous_id})):
            session.add(
                models.TrackedEvent(
                    message_id=f"orphan-{n}", type="page", occurred_at=NOW, **ids
                )
            )
