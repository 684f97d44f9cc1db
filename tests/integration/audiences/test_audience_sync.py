"""Audience sync end to end, on SQLite and PostgreSQL, with the real Redis
holding the guard's budgets and the Klaviyo simulator over HTTP: a segment's
consenting members subscribed, leavers taken off the list, withdrawn consent
unsubscribed, nothing sent twice — counted in the simulator's requests."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, insert, select, update
from typer.testing import CliRunner

from connectors.errors import UpstreamRateLimited
from connectors.klaviyo.limits import Limit
from connectors.klaviyo.simulator.limits import EndpointLimits
from connectors.klaviyo.simulator.server import LIMITS, KlaviyoSimulator
from gateway.audiences.service import Added, Audiences
from gateway.audiences.tables import AudienceConnection
from gateway.cli.main import app
from gateway.db import models
from gateway.insights.tables import Segment, SegmentMember
from gateway.runtime.services import Services
from tests.conftest import GraphQL
from tests.integration.audiences.conftest import KEY, Clock

runner = CliRunner()
CONNECT = """mutation($s: String!, $l: String!) {
  connectSegmentToList(segment: $s, listId: $l) {
    segment listId listName syncedAt subscribed removed unsubscribed } }"""
CONNECTIONS = "{ audienceConnections { segment listId subscribed removed unsubscribed syncedAt } }"


async def ask(api: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await api.post("/graphql", json={"query": query, "variables": variables})
    body: dict[str, Any] = response.json()
    return body


def vip(sim: KlaviyoSimulator) -> str:
    return next(
        i for i, item in sim.account.lists.items() if item.name == "VIP early access"
    )


async def people(
    services: Services, count: int, *, consent: str | None, start: int = 0
) -> list[tuple[int, str]]:
    """``count`` customers (``c<n>@shop.example``), each with that email consent."""
    emails = [f"c{n}@shop.example" for n in range(start, start + count)]
    async with services.sessions.begin() as session:
        await session.execute(insert(models.Customer), [{"email": e} for e in emails])
        rows = (
            await session.execute(
                select(models.Customer.id, models.Customer.email).where(
                    models.Customer.email.in_(emails)
                )
            )
        ).all()
        if consent is not None:
            await session.execute(
                insert(models.Consent),
                [
                    {
                        "customer_id": cid,
                        "channel": "email",
                        "state": consent,
                        "source": "test",
                    }
                    for cid, _ in rows
                ],
            )
    return sorted((cid, email) for cid, email in rows)


async def segment(services: Services, name: str, members: list[tuple[int, str]]) -> int:
    now = datetime.now(UTC)
    async with services.sessions.begin() as session:
        row = Segment(name=name, filter={"tagsAny": ["vip"]}, refreshed_at=now)
        session.add(row)
        await session.flush()
        if members:
            await session.execute(
                insert(SegmentMember),
                [
                    {"segment_id": row.id, "customer_id": c, "since": now}
                    for c, _ in members
                ],
            )
        return row.id


async def leave(services: Services, segment_id: int, customer_id: int) -> None:
    async with services.sessions.begin() as session:
        await session.execute(
            delete(SegmentMember).where(
                SegmentMember.segment_id == segment_id,
                SegmentMember.customer_id == customer_id,
            )
        )


async def join(services: Services, segment_id: int, customer_id: int) -> None:
    async with services.sessions.begin() as session:
        session.add(
            SegmentMember(
                segment_id=segment_id, customer_id=customer_id, since=datetime.now(UTC)
            )
        )


async def set_consent(services: Services, customer_id: int, state: str) -> None:
    async with services.sessions.begin() as session:
        await session.execute(
            update(models.Consent)
            .where(models.Consent.customer_id == customer_id)
            .values(state=state)
        )


async def connection_id(services: Services) -> int:
    async with services.sessions() as session:
        return int(await session.scalar(select(AudienceConnection.id)) or 0)


async def test_members_enter_exit_and_withdraw_and_each_is_sent_once(
    configured: Services,
    api: httpx.AsyncClient,
    audiences: Audiences,
    sim: KlaviyoSimulator,
) -> None:
    (a, b, d) = await people(configured, 3, consent="granted")
    [c] = await people(configured, 1, consent=None, start=3)
    vips = await segment(configured, "VIPs", [a, b, c])
    connected = await ask(api, CONNECT, s="VIPs", l=vip(sim))
    assert connected["data"]["connectSegmentToList"] == {
        "segment": "VIPs",
        "listId": vip(sim),
        "listName": "VIP early access",
        "syncedAt": None,
        "subscribed": 0,
        "removed": 0,
        "unsubscribed": 0,
    }
    assert sim.requests.snapshot() == {"get-list": 1}

    report = await audiences.sync(await connection_id(configured))
    assert (report.entered, report.exited, report.withdrawn) == (2, 0, 0)
    assert sim.requests["bulk-subscribe"] == 1
    assert sim.list_emails(vip(sim)) == {a[1], b[1]}  # the CRM's addresses
    assert sim.profile(c[1]) is None  # no consent: never sent

    sim.requests.reset()
    await audiences.sync(await connection_id(configured))
    assert sim.requests.snapshot() == {"get-profiles": 1}  # the read-back only

    sim.requests.reset()
    await leave(configured, vips, b[0])
    await set_consent(configured, a[0], "denied")
    await join(configured, vips, d[0])
    report = await audiences.sync(await connection_id(configured))
    assert (report.entered, report.exited, report.withdrawn) == (1, 1, 1)
    assert sim.requests.snapshot() == {
        "bulk-unsubscribe": 1,
        "get-profiles": 2,  # the read-back, then the leaver's profile id
        "remove-from-list": 1,
        "bulk-subscribe": 1,
    }
    assert sim.list_emails(vip(sim)) == {d[1]}
    assert sim.profile(a[1]).consent == "UNSUBSCRIBED"  # type: ignore[union-attr]
    assert sim.profile(b[1]).consent == "SUBSCRIBED"  # type: ignore[union-attr]

    listed = await ask(api, CONNECTIONS)
    [row] = listed["data"]["audienceConnections"]
    assert (row["subscribed"], row["removed"], row["unsubscribed"]) == (1, 1, 1)
    assert row["syncedAt"] is not None


async def test_a_sync_cut_short_sends_only_the_rest_when_run_again(
    configured: Services,
    api: httpx.AsyncClient,
    audiences: Audiences,
    sim: KlaviyoSimulator,
    clock: Clock,
) -> None:
    members = await people(configured, 1500, consent="granted")
    await segment(configured, "Everyone", members)
    await ask(api, CONNECT, s="Everyone", l=vip(sim))
    sim.limits = EndpointLimits(clock, {**LIMITS, "bulk-subscribe": Limit(1, 1)})
    with pytest.raises(UpstreamRateLimited):  # Retry-After 60: past the deadline
        await audiences.sync(await connection_id(configured))
    clock.now += 60
    await audiences.sync(await connection_id(configured))
    assert sim.requests["bulk-subscribe"] == 3  # sent, refused, the rest
    assert sorted(len(job.emails) for job in sim.jobs) == [500, 1000]
    assert len(sim.list_emails(vip(sim))) == 1500
    [row] = (await ask(api, CONNECTIONS))["data"]["audienceConnections"]
    assert row["subscribed"] == 1500


async def test_one_customer_is_added_only_with_consent_and_its_properties_first(
    configured: Services, audiences: Audiences, sim: KlaviyoSimulator
) -> None:
    [yes] = await people(configured, 1, consent="granted")
    [pending] = await people(configured, 1, consent="pending", start=1)
    assert await audiences.add_to_list(pending[0], vip(sim)) is Added.NO_CONSENT
    assert sim.requests.total == 0
    added = await audiences.add_to_list(yes[0], vip(sim), {"promo": "BDAY-20"})
    assert added is Added.SUBSCRIBED
    assert sim.requests.snapshot() == {"profile-import": 1, "bulk-subscribe": 1}
    assert sim.list_emails(vip(sim)) == {yes[1]}
    profile = sim.profile(yes[1])
    assert profile is not None
    assert profile.attributes["properties"] == {"promo": "BDAY-20"}


async def test_what_cannot_be_connected_is_refused_and_nothing_stored(
    configured: Services, api: httpx.AsyncClient, sim: KlaviyoSimulator
) -> None:
    await segment(configured, "VIPs", [])

    def codes(answer: dict[str, Any]) -> list[tuple[str, str | None]]:
        return [
            (e["extensions"]["code"], e["extensions"].get("field"))
            for e in answer["errors"]
        ]

    assert codes(await ask(api, CONNECT, s="VIPs", l="no/such")) == [
        ("BAD_USER_INPUT", "listId")
    ]
    assert codes(await ask(api, CONNECT, s="Nobody", l=vip(sim))) == [
        ("NOT_FOUND", "segment")
    ]
    assert sim.requests.total == 0
    assert codes(await ask(api, CONNECT, s="VIPs", l="Nosuch")) == [
        ("BAD_USER_INPUT", "listId")
    ]
    assert await connection_id(configured) == 0
    assert "errors" not in await ask(api, CONNECT, s="VIPs", l=vip(sim))
    assert codes(await ask(api, CONNECT, s="VIPs", l=vip(sim))) == [
        ("CONFLICT", "listId")
    ]
    disconnect = "mutation($s: String!, $l: String!) { disconnectSegmentFromList(segment: $s, listId: $l) }"
    assert (await ask(api, disconnect, s="VIPs", l=vip(sim)))["data"] == {
        "disconnectSegmentFromList": True
    }
    assert codes(await ask(api, disconnect, s="VIPs", l=vip(sim))) == [
        ("NOT_FOUND", "listId")
    ]


async def test_readyz_shows_klaviyo_once_configured(api: httpx.AsyncClient) -> None:
    ready = (await api.get("/readyz")).json()
    assert ready["upstreams"]["klaviyo"]["breaker"] == "closed"


async def test_without_a_klaviyo_key_connecting_is_not_configured(gql: GraphQL) -> None:
    answer = await gql(CONNECT, {"s": "VIPs", "l": "Y6nRLr"})
    assert answer["errors"][0]["extensions"]["code"] == "NOT_CONFIGURED"
    listed = await gql(CONNECTIONS)
    assert listed["data"] == {"audienceConnections": []}


async def test_the_command_line_syncs_and_lists_the_connections(
    configured: Services,
    api: httpx.AsyncClient,
    sim: KlaviyoSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``customer-graph audiences sync`` in a thread of its own (its own event
    loop), the simulator served from this one."""
    [member] = await people(configured, 1, consent="granted")
    await segment(configured, "VIPs", [member])
    await ask(api, CONNECT, s="VIPs", l=vip(sim))
    settings = configured.settings
    monkeypatch.setenv("CG_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CG_KLAVIYO_URL", settings.klaviyo_url)
    monkeypatch.setenv("CG_KLAVIYO_API_KEY", KEY)
    synced = await asyncio.to_thread(runner.invoke, app, ["audiences", "sync"])
    assert synced.exit_code == 0, synced.output
    assert sim.list_emails(vip(sim)) == {member[1]}
    listed = await asyncio.to_thread(runner.invoke, app, ["audiences", "list"])
    assert "VIPs" in listed.output
    assert listed.exit_code == 0, listed.output
    monkeypatch.delenv("CG_KLAVIYO_API_KEY")
    unconfigured = await asyncio.to_thread(runner.invoke, app, ["audiences", "sync"])
    assert unconfigured.exit_code == 1
    assert "not configured" in unconfigured.output
