"""Consent read back from Klaviyo before each sync, on SQLite and PostgreSQL
against the simulator over HTTP: an unsubscribe clicked in a Klaviyo email
or a bounce withdraws the CRM's email consent and the member is never
subscribed again; the read's calls counted; Klaviyo down leaves all as it
was."""

from __future__ import annotations

import math

import httpx
from sqlalchemy import select

from connectors.klaviyo.simulator.server import KlaviyoSimulator
from gateway.audiences.service import Audiences
from gateway.audiences.tables import AudienceMember
from gateway.changes.bus import CustomerChange
from gateway.db import models
from gateway.runtime.services import Services
from tests.integration.audiences.test_audience_sync import (
    CONNECT,
    ask,
    connection_id,
    join,
    leave,
    people,
    segment,
    set_consent,
    vip,
)


async def subscribed(
    configured: Services,
    api: httpx.AsyncClient,
    audiences: Audiences,
    sim: KlaviyoSimulator,
    count: int,
) -> tuple[int, list[tuple[int, str]]]:
    """``count`` consenting customers in a segment synced to the VIP list:
    the segment's id and the customers."""
    members = await people(configured, count, consent="granted")
    segment_id = await segment(configured, "VIPs", members)
    await ask(api, CONNECT, s="VIPs", l=vip(sim))
    await audiences.sync(await connection_id(configured))
    assert len(sim.list_emails(vip(sim))) == count
    sim.requests.reset()
    return segment_id, members


async def consent_of(services: Services, customer_id: int) -> models.Consent:
    async with services.sessions() as session:
        found = await session.get(models.Consent, (customer_id, "email"))
    assert found is not None
    return found


async def states(services: Services) -> dict[int, str]:
    async with services.sessions() as session:
        rows = await session.execute(
            select(AudienceMember.customer_id, AudienceMember.state)
        )
    return {customer_id: state for customer_id, state in rows}


async def test_an_unsubscribe_clicked_in_klaviyo_withdraws_consent_for_good(
    configured: Services,
    api: httpx.AsyncClient,
    audiences: Audiences,
    sim: KlaviyoSimulator,
) -> None:
    segment_id, [(a, a_email), (b, b_email)] = await subscribed(
        configured, api, audiences, sim, 2
    )
    announced: list[CustomerChange] = []

    async def hear(change: CustomerChange) -> None:
        announced.append(change)

    configured.changes.subscribe(hear)
    sim.account.suppress(a_email, "UNSUBSCRIBE")  # the link in an email
    clicked = sim.account.find({"email": a_email})
    assert clicked is not None
    assert clicked.consent == "UNSUBSCRIBED"

    report = await audiences.sync(await connection_id(configured))
    assert (report.opted_out, report.withdrawn, report.entered) == (1, 0, 0)
    assert sim.requests.snapshot() == {"get-profiles": 1}  # nothing sent
    consent = await consent_of(configured, a)
    assert (consent.state, consent.source) == ("denied", "klaviyo")
    assert consent.changed_at == clicked.suppressions[-1][1]  # Klaviyo's time
    assert (await consent_of(configured, b)).state == "granted"
    assert await states(configured) == {a: "unsubscribed", b: "subscribed"}
    assert announced == [
        CustomerChange(a, "klaviyo", "consent_changed", announced[0].occurred_at)
    ]
    async with configured.sessions() as session:
        [event] = await session.scalars(
            select(models.CustomerEvent).where(models.CustomerEvent.customer_id == a)
        )
    assert (event.kind, event.actor, event.summary) == (
        "consent_changed",
        "klaviyo",
        "Email consent denied",
    )
    assert event.payload == {
        "channel": "email",
        "state": "denied",
        "reason": "UNSUBSCRIBE",
    }

    await leave(configured, segment_id, a)
    await audiences.sync(await connection_id(configured))
    await join(configured, segment_id, a)
    sim.requests.reset()
    report = await audiences.sync(await connection_id(configured))
    assert report.entered == 0
    assert "bulk-subscribe" not in sim.requests.snapshot()
    assert clicked.consent == "UNSUBSCRIBED"
    assert not clicked.can_receive_email_marketing  # the suppression stands
    assert b_email in sim.list_emails(vip(sim))


async def test_a_hard_bounce_withdraws_consent_and_is_not_subscribed_again(
    configured: Services,
    api: httpx.AsyncClient,
    audiences: Audiences,
    sim: KlaviyoSimulator,
) -> None:
    segment_id, [(a, a_email)] = await subscribed(configured, api, audiences, sim, 1)
    sim.account.suppress(a_email, "HARD_BOUNCE")
    report = await audiences.sync(await connection_id(configured))
    assert report.opted_out == 1
    consent = await consent_of(configured, a)
    assert (consent.state, consent.source) == ("denied", "klaviyo")
    assert await states(configured) == {a: "unsubscribed"}

    await leave(configured, segment_id, a)
    await join(configured, segment_id, a)
    sim.requests.reset()
    await audiences.sync(await connection_id(configured))
    assert sim.requests.snapshot() == {"get-profiles": 1}  # read, nothing sent


async def test_an_opt_out_before_the_first_subscribe_is_never_lifted(
    configured: Services,
    api: httpx.AsyncClient,
    audiences: Audiences,
    sim: KlaviyoSimulator,
) -> None:
    """Unsubscribed in Klaviyo (another list's email) after the CRM's consent,
    before this list's first sync: the first sync reads it and does not
    subscribe them (which would lift the suppression)."""
    members = await people(configured, 2, consent="granted")
    [(a, a_email), (b, b_email)] = members
    for _, email in members:
        sim.account.add_profile({"email": email})
    sim.account.suppress(a_email, "UNSUBSCRIBE")
    await segment(configured, "VIPs", members)
    await ask(api, CONNECT, s="VIPs", l=vip(sim))
    report = await audiences.sync(await connection_id(configured))
    assert (report.entered, report.opted_out) == (1, 0)
    assert sim.list_emails(vip(sim)) == {b_email}
    consent = await consent_of(configured, a)
    assert (consent.state, consent.source) == ("denied", "klaviyo")
    assert await states(configured) == {b: "subscribed"}
    suppressed = sim.account.find({"email": a_email})
    assert suppressed is not None
    assert not suppressed.can_receive_email_marketing


async def test_a_consent_the_crm_recorded_after_the_opt_out_stands(
    configured: Services,
    api: httpx.AsyncClient,
    audiences: Audiences,
    sim: KlaviyoSimulator,
) -> None:
    _, [(a, a_email)] = await subscribed(configured, api, audiences, sim, 1)
    sim.account.suppress(a_email, "UNSUBSCRIBE")
    await configured.crm.set_consent(a, "email", "granted", "storefront")
    report = await audiences.sync(await connection_id(configured))
    assert report.opted_out == 0
    consent = await consent_of(configured, a)
    assert (consent.state, consent.source) == ("granted", "storefront")
    assert await states(configured) == {a: "subscribed"}


async def test_the_read_back_costs_a_call_per_hundred_suppressions_not_per_member(
    configured: Services,
    api: httpx.AsyncClient,
    audiences: Audiences,
    sim: KlaviyoSimulator,
) -> None:
    members = 1000
    _, people_ = await subscribed(configured, api, audiences, sim, members)
    await audiences.sync(await connection_id(configured))
    assert sim.requests.snapshot() == {"get-profiles": 1}  # none suppressed yet

    suppressed = 250
    for _, email in people_[:suppressed]:
        sim.account.suppress(email, "UNSUBSCRIBE")
    sim.requests.reset()
    report = await audiences.sync(await connection_id(configured))
    assert report.opted_out == suppressed
    calls = math.ceil(suppressed / 100)
    assert sim.requests.snapshot() == {"get-profiles": calls}
    assert calls < members / 100  # reading the list's members: 10 calls

    sim.requests.reset()
    report = await audiences.sync(await connection_id(configured))
    assert report.opted_out == 0  # read again within the overlap: no change
    assert sim.requests.snapshot() == {"get-profiles": calls}


async def test_klaviyo_down_during_the_read_back_changes_nothing_and_is_reported(
    configured: Services,
    api: httpx.AsyncClient,
    audiences: Audiences,
    sim: KlaviyoSimulator,
) -> None:
    _, [(a, a_email), (b, _)] = await subscribed(configured, api, audiences, sim, 2)
    sim.account.suppress(a_email, "UNSUBSCRIBE")
    await set_consent(configured, b, "denied")  # would be unsubscribed
    sim.fail_next(4, status=503)  # every attempt of the read

    reports = await audiences.sync_all()
    [report] = reports.values()
    assert report.failure == (
        "reading consent back from Klaviyo failed (UPSTREAM_UNAVAILABLE):"
        " nothing changed"
    )
    assert sim.requests.snapshot() == {"get-profiles": 4}  # nothing sent
    assert (await consent_of(configured, a)).state == "granted"
    assert await states(configured) == {a: "subscribed", b: "subscribed"}

    sim.heal()  # the next sync does it all: four failures leave the breaker shut
    await audiences.sync(await connection_id(configured))
    assert await states(configured) == {a: "unsubscribed", b: "unsubscribed"}
