"""Deliveries against a real receiver: signed as the Standard Webhooks
reference library verifies, retried after 500s and timeouts, dead after the
last attempt, queued again by retryDelivery, replayed with the same message
id, an endpoint that answers 410 disabled, and a slow endpoint holding back
no one else's deliveries."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from sqlalchemy import select

from gateway.outbound import deliveries, endpoints
from gateway.outbound.deliveries import REPLAYABLE, RETRYABLE
from gateway.outbound.publish import publish
from gateway.outbound.tables import (
    DeliveryStatus,
    OutboundDelivery,
    OutboundEndpoint,
    OutboundMessage,
)
from gateway.runtime.services import Services
from tests.integration.outbound.conftest import (
    Inbox,
    endpoint_for,
    eventually,
    impatient,
    worker,
)


async def statuses(services: Services) -> list[str]:
    async with services.sessions() as session:
        rows = await session.scalars(
            select(OutboundDelivery.status).order_by(OutboundDelivery.id)
        )
        return list(rows)


async def settled(services: Services, count: int) -> bool:
    done = {DeliveryStatus.DELIVERED.value, DeliveryStatus.DEAD.value}
    found = await statuses(services)
    return len(found) == count and all(s in done for s in found)


async def test_an_event_reaches_each_matching_endpoint_signed_once_per_message(
    outbound: Services, inbox: Inbox
) -> None:
    await endpoint_for(outbound, inbox, "all")
    await endpoint_for(outbound, inbox, "orders", ["order.placed"])
    await endpoint_for(outbound, inbox, "tickets", ["ticket.rated"])
    ids = await publish(outbound, "order.placed", {"orderId": "1001"}, customer_id=7)
    assert len(ids) == 2
    async with worker(outbound):
        await eventually(lambda: settled(outbound, 2))
    assert sorted(r.name for r in inbox.received) == ["all", "orders"]
    assert all(r.verified for r in inbox.received)
    first, second = inbox.received
    assert first.msg_id == second.msg_id
    assert first.msg_id.startswith("msg_")
    body = json.loads(first.body)
    assert body["type"] == "order.placed"
    assert body["data"] == {"orderId": "1001"}
    assert set(first.headers) >= {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
    async with outbound.sessions() as session:
        assert len((await session.scalars(select(OutboundMessage))).all()) == 1


async def test_500s_are_retried_until_the_endpoint_answers(
    outbound: Services, inbox: Inbox
) -> None:
    endpoint = await endpoint_for(outbound, inbox, "flaky")
    inbox.script["flaky"] = [500, 503]
    await publish(outbound, "customer.updated", {"id": 1})
    async with worker(outbound):
        await eventually(lambda: settled(outbound, 1))
    assert await statuses(outbound) == ["delivered"]
    got = inbox.of("flaky")
    assert [r.verified for r in got] == [True, True, True]
    assert len({r.msg_id for r in got}) == 1
    page = await deliveries.page(outbound.sessions, endpoint, None, 10, None)
    log = page.items[0].log
    assert [(a.outcome, a.status_code) for a in log] == [
        ("failed", 500),
        ("failed", 503),
        ("delivered", 200),
    ]
    excerpt = log[0].response_excerpt or ""
    assert "jane@example.com" not in excerpt
    assert "4111111111111111" not in excerpt
    assert "\x00" not in excerpt
    assert excerpt.startswith("boom")


async def test_timeouts_end_in_a_dead_letter_then_retry_delivery_sends_it(
    outbound: Services, inbox: Inbox
) -> None:
    await endpoint_for(outbound, inbox, "slow")
    inbox.delay["slow"] = 2.0
    (delivery_id,) = await publish(outbound, "customer.updated", {"id": 2})
    async with impatient(outbound, 0.5) as services, worker(services):
        await eventually(lambda: settled(services, 1))
        assert await statuses(services) == ["dead"]
        found = await deliveries.one(services.sessions, delivery_id)
        assert [a.error_class for a in found.log] == ["ReadTimeout"] * 3
        del inbox.delay["slow"]
        await deliveries.requeue(services, delivery_id, RETRYABLE)
        await eventually(lambda: settled(services, 1))
    assert await statuses(outbound) == ["delivered"]
    found = await deliveries.one(outbound.sessions, delivery_id)
    assert [a.outcome for a in found.log] == ["failed"] * 3 + ["delivered"]
    assert found.row.attempts == 1


async def test_a_replay_sends_the_same_message_again(
    outbound: Services, inbox: Inbox
) -> None:
    await endpoint_for(outbound, inbox, "replayed")
    (delivery_id,) = await publish(outbound, "customer.updated", {"id": 3})
    async with worker(outbound):
        await eventually(lambda: settled(outbound, 1))
        await deliveries.requeue(outbound, delivery_id, REPLAYABLE)
        await eventually(lambda: len(inbox.of("replayed")) == 2)
        await eventually(lambda: settled(outbound, 1))
    first, again = inbox.of("replayed")
    assert first.msg_id == again.msg_id
    assert first.body == again.body
    assert again.verified
    found = await deliveries.one(outbound.sessions, delivery_id)
    assert [a.outcome for a in found.log] == ["delivered", "delivered"]


async def test_410_gone_disables_the_endpoint_and_later_events_skip_it(
    outbound: Services, inbox: Inbox
) -> None:
    gone = await endpoint_for(outbound, inbox, "gone")
    await endpoint_for(outbound, inbox, "kept")
    inbox.script["gone"] = [410]
    await publish(outbound, "customer.updated", {"id": 4})
    async with worker(outbound):
        await eventually(lambda: settled(outbound, 2))
    assert sorted(await statuses(outbound)) == ["dead", "delivered"]
    assert len(inbox.of("gone")) == 1
    async with outbound.sessions() as session:
        endpoint = await session.get(OutboundEndpoint, gone)
        assert endpoint is not None
        assert (endpoint.enabled, endpoint.disabled_reason) == (False, "gone")
    assert len(await publish(outbound, "customer.updated", {"id": 5})) == 1


async def test_a_rotated_secret_signs_beside_the_old_one(
    outbound: Services, inbox: Inbox
) -> None:
    endpoint = await endpoint_for(outbound, inbox, "rotated")
    old = inbox.secrets["rotated"][0]
    new = (
        await endpoints.rotate(
            outbound.sessions, outbound.sealer, endpoint, timedelta(hours=1)
        )
    ).secret
    inbox.secrets["rotated"] = [old, new]
    await publish(outbound, "customer.updated", {"id": 6})
    async with worker(outbound):
        await eventually(lambda: settled(outbound, 1))
    (got,) = inbox.of("rotated")
    assert got.verified
    assert len(got.headers["webhook-signature"].split(" ")) == 2


async def test_a_slow_endpoint_holds_its_lanes_only(
    outbound: Services, inbox: Inbox
) -> None:
    await endpoint_for(outbound, inbox, "stuck", ["slow.event"])
    await endpoint_for(outbound, inbox, "quick", ["fast.event"])
    inbox.gate["stuck"] = asyncio.Event()
    for n in range(6):
        await publish(outbound, "slow.event", {"n": n})
    for n in range(5):
        await publish(outbound, "fast.event", {"n": n})
    lanes = outbound.settings.outbound_endpoint_concurrency
    async with worker(outbound, concurrency=lanes + 2):
        try:
            await eventually(
                lambda: (
                    len(inbox.of("quick")) == 5
                    and inbox.in_flight.get("stuck") == lanes
                )
            )
            assert inbox.of("stuck") == []
        finally:
            inbox.gate["stuck"].set()  # else the worker's shutdown waits on it
        await eventually(lambda: settled(outbound, 11))
    assert await statuses(outbound) == ["delivered"] * 11
    assert inbox.most_in_flight["stuck"] == lanes
