"""``POST /webhooks/zendesk``: event-subscription deliveries from the Zendesk
simulator to the gateway served on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from connectors.demo_world import World
from connectors.simulator_server import serve_app
from connectors.zendesk.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER
from gateway.app import create_app
from gateway.db import models
from gateway.db.models import utcnow
from gateway.db.ticket_changes import tickets_changed_since
from gateway.demo.simulation import ZENDESK_WEBHOOK_SECRET, Simulators
from gateway.runtime.services import Services
from gateway.runtime.upstreams import Upstreams
from tests.conftest import ANSWER_WAIT
from tests.integration.gateway.simulated import (
    count,
    customer_id_by_email,
    record_changes,
    services_on,
)

WORLD = World(seed=6, size=10)


@pytest.fixture
async def url(wired: Services) -> AsyncIterator[str]:
    async with serve_app(create_app(services=wired)) as base:
        yield f"{base}/webhooks/zendesk"


def ticket_of(simulators: Simulators) -> tuple[int, dict[str, object]]:
    """A ticket and its event detail, with the requester's world index."""
    ticket_id, ticket = next(iter(simulators.zendesk.desk.tickets.items()))
    requester = next(
        u
        for u in simulators.zendesk.desk.users.values()
        if u["id"] == ticket["requester_id"]
    )
    index = next(c.index for c in WORLD.customers if c.email == requester["email"])
    return index, simulators.zendesk.ticket_event_detail(ticket_id)


def signature(message: bytes) -> str:
    key = ZENDESK_WEBHOOK_SECRET.encode()
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


async def nothing_stored(wired: Services) -> bool:
    return (
        await count(wired, models.WebhookDelivery) == 0
        and await count(wired, models.Identity) == 0
    )


async def test_a_ticket_event_links_the_requester_by_email_and_announces_it(
    simulators: Simulators, wired: Services, url: str
) -> None:
    changes = record_changes(wired)
    index, detail = ticket_of(simulators)
    response = await simulators.zendesk.send_webhook(
        url, "ticket.created", detail, ZENDESK_WEBHOOK_SECRET
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "processed"}
    expected = await customer_id_by_email(wired, WORLD.customers[index].email)
    assert [(c.customer_id, c.source, c.kind) for c in changes] == [
        (expected, "zendesk", "ticket.created")
    ]
    async with wired.sessions() as session:
        link = await session.scalar(select(models.Identity))
    assert link is not None
    assert (link.external_id, link.linked_by) == (str(detail["requester_id"]), "email")


async def test_a_user_event_of_a_linked_user_needs_no_upstream_call(
    simulators: Simulators, wired: Services, url: str
) -> None:
    changes = record_changes(wired)
    async with wired.sessions() as session, session.begin():
        session.add(
            models.Identity(
                customer_id=await customer_id_by_email(wired, WORLD.customers[2].email),
                source="zendesk",
                external_id="777",
            )
        )
    simulators.reset_counts()
    response = await simulators.zendesk.send_webhook(
        url, "user.active_changed", {"id": "777"}, ZENDESK_WEBHOOK_SECRET
    )
    assert response.status_code == 200, response.text
    assert [c.kind for c in changes] == ["user.active_changed"]
    assert simulators.zendesk.requests.total == 0


async def test_a_ticket_event_notes_its_ticket_for_reads_past_search(
    simulators: Simulators, wired: Services, url: str
) -> None:
    _, detail = ticket_of(simulators)
    ticket_id, requester = str(detail["id"]), str(detail["requester_id"])
    lag = timedelta(seconds=wired.settings.zendesk_search_lag)
    async with wired.sessions() as session, session.begin():
        session.add(  # a change older than search's lag: no read needs it
            models.ZendeskTicketChange(
                ticket_id="1", requester_id=requester, changed_at=utcnow() - 2 * lag
            )
        )
    for kind in ("ticket.created", "ticket.status_changed"):
        response = await simulators.zendesk.send_webhook(
            url, kind, detail, ZENDESK_WEBHOOK_SECRET
        )
        assert response.status_code == 200, response.text
    user = await simulators.zendesk.send_webhook(
        url, "user.active_changed", {"id": "777"}, ZENDESK_WEBHOOK_SECRET
    )
    assert user.status_code == 200, user.text
    async with wired.sessions() as session:
        rows = (await session.scalars(select(models.ZendeskTicketChange))).all()
    assert [(r.ticket_id, r.requester_id) for r in rows] == [(ticket_id, requester)]
    since = utcnow() - lag
    assert await tickets_changed_since(wired.sessions, [requester], since) == [
        ticket_id
    ]
    assert await tickets_changed_since(wired.sessions, ["777"], since) == []


async def test_a_bad_signature_is_rejected_and_nothing_is_stored(
    simulators: Simulators, wired: Services, url: str
) -> None:
    changes = record_changes(wired)
    _, detail = ticket_of(simulators)
    response = await simulators.zendesk.send_webhook(
        url, "ticket.created", detail, "wrong"
    )
    assert response.status_code == 401
    async with httpx.AsyncClient(timeout=ANSWER_WAIT) as http:
        unsigned = await http.post(url, json={"type": "x"})
    assert unsigned.status_code == 401
    assert changes == []
    assert await nothing_stored(wired)


async def test_a_stale_timestamp_is_rejected_even_with_a_valid_signature(
    simulators: Simulators, wired: Services, url: str
) -> None:
    _, detail = ticket_of(simulators)
    stale = (datetime.now(UTC) - timedelta(minutes=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = await simulators.zendesk.send_webhook(
        url, "ticket.created", detail, ZENDESK_WEBHOOK_SECRET, timestamp=stale
    )
    assert response.status_code == 401
    assert "stale" in response.json()["error"]
    assert await nothing_stored(wired)


async def test_a_redelivered_event_is_processed_once(
    simulators: Simulators, wired: Services, url: str
) -> None:
    changes = record_changes(wired)
    _, detail = ticket_of(simulators)
    statuses = [
        (
            await simulators.zendesk.send_webhook(
                url,
                "ticket.status_changed",
                detail,
                ZENDESK_WEBHOOK_SECRET,
                event_id="ev-1",
            )
        ).json()["status"]
        for _ in range(2)
    ]
    assert statuses == ["processed", "duplicate"]
    assert len(changes) == 1


async def test_a_signed_body_that_is_not_an_envelope_is_a_bad_request(
    wired: Services, url: str
) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    async with httpx.AsyncClient(timeout=ANSWER_WAIT) as http:
        for body in (b"{not json", b'{"say": "hello"}'):
            headers = {
                SIGNATURE_HEADER: signature(stamp.encode() + body),
                TIMESTAMP_HEADER: stamp,
            }
            response = await http.post(url, content=body, headers=headers)
            assert response.status_code == 400, body
    assert await nothing_stored(wired)


async def test_without_a_configured_secret_deliveries_are_refused(
    simulators: Simulators, db: Services, upstreams: Upstreams
) -> None:
    unsigned = services_on(simulators, db, upstreams, zendesk_webhook_secret=None)
    async with serve_app(create_app(services=unsigned)) as base:
        response = await simulators.zendesk.send_webhook(
            f"{base}/webhooks/zendesk",
            "user.created",
            {"id": "1"},
            ZENDESK_WEBHOOK_SECRET,
        )
    assert response.status_code == 503
    assert "CG_ZENDESK_WEBHOOK_SECRET" in response.json()["error"]


async def test_an_unknown_source_is_not_found(wired: Services, url: str) -> None:
    async with httpx.AsyncClient(timeout=ANSWER_WAIT) as http:
        response = await http.post(url.replace("zendesk", "freshdesk"), content=b"{}")
    assert response.status_code == 404
    assert set(response.json()) == {"error", "code"}
