"""Deliveries are jobs in PostgreSQL: a worker stopped half-way leaves the
rest to the next one, and the receiver gets every message exactly once; a
delivery committed but never deferred (its publisher stopped in between) is
deferred again by the periodic sweep and sent once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import update

from gateway.db.models import utcnow
from gateway.outbound.publish import publish, requeue_stranded
from gateway.outbound.tables import OutboundDelivery
from gateway.runtime.services import Services
from tests.integration.outbound.conftest import (
    Inbox,
    endpoint_for,
    eventually,
    open_jobs,
    worker,
)
from tests.integration.outbound.test_delivery import settled, statuses

TOTAL = 40


async def test_a_worker_restart_delivers_every_message_exactly_once(
    outbound: Services, inbox: Inbox, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("jobs survive a restart on PostgreSQL only (SQLite: in memory)")
    await endpoint_for(outbound, inbox, "durable")
    inbox.delay["durable"] = 0.02
    for n in range(TOTAL):
        await publish(outbound, "customer.updated", {"n": n})
    async with worker(outbound, concurrency=2):
        await eventually(lambda: len(inbox.of("durable")) >= 10)
    stopped_at = len(inbox.of("durable"))
    assert stopped_at < TOTAL
    assert sum(s == "delivered" for s in await statuses(outbound)) == stopped_at
    restarted = await open_jobs(database_url, empty=False)
    try:
        async with worker(outbound, jobs=restarted, concurrency=2):
            await eventually(lambda: settled(outbound, TOTAL))
    finally:
        await restarted.close_async()
    counts = Counter(r.msg_id for r in inbox.of("durable"))
    assert len(counts) == TOTAL
    assert set(counts.values()) == {1}
    assert all(r.verified for r in inbox.of("durable"))


async def test_a_stranded_delivery_is_deferred_again_and_sent_once(
    outbound: Services, inbox: Inbox
) -> None:
    await endpoint_for(outbound, inbox, "stranded")
    (delivery_id,) = await publish(outbound, "customer.updated", {"id": 1})
    async with outbound.sessions() as session, session.begin():
        await session.execute(
            update(OutboundDelivery)
            .where(OutboundDelivery.id == delivery_id)
            .values(queued_at=None, created_at=utcnow() - timedelta(minutes=5))
        )
    assert outbound.jobs is not None
    assert await requeue_stranded(outbound, outbound.jobs) == 1
    assert await requeue_stranded(outbound, outbound.jobs) == 0
    async with worker(outbound):
        await eventually(lambda: settled(outbound, 1))
    assert await statuses(outbound) == ["delivered"]
    assert len(inbox.of("stranded")) == 1
