"""Deliveries are jobs in PostgreSQL: a worker stopped half-way leaves the
rest to the next one, and the receiver gets every message exactly once; a
delivery whose lane job, or whose retry, is deferred twice is sent once."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from gateway.db.models import utcnow
from gateway.jobs.deferral import defer_with
from gateway.outbound.attempts import retry_job
from gateway.outbound.publish import DELIVER, SEND_LANE, lane_job, publish
from gateway.outbound.tasks import BATCH
from gateway.runtime.services import Services
from tests.integration.outbound.conftest import (
    Inbox,
    endpoint_for,
    eventually,
    open_jobs,
    worker,
)
from tests.integration.outbound.test_delivery import settled, statuses

TOTAL = 4 * BATCH
"""Two batches in each of the endpoint's two lanes: a stopped worker finishes
the batches it runs and leaves the rest."""


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


async def test_deliveries_deferred_twice_are_sent_once(
    outbound: Services, inbox: Inbox
) -> None:
    endpoint = await endpoint_for(outbound, inbox, "twice")
    ids = [await publish(outbound, "customer.updated", {"n": n}) for n in range(3)]
    width = outbound.settings.outbound_endpoint_concurrency
    first = ids[0][0]
    assert outbound.jobs is not None
    async with outbound.sessions() as session, session.begin():
        again = replace(lane_job(endpoint, first % width, width), if_none_queued=False)
        await defer_with(session, outbound.jobs, SEND_LANE, [again])
        await defer_with(session, outbound.jobs, DELIVER, [retry_job(first, utcnow())])
    async with worker(outbound):
        await eventually(lambda: settled(outbound, 3))
    counts = Counter(r.msg_id for r in inbox.of("twice"))
    assert sorted(counts.values()) == [1, 1, 1]
