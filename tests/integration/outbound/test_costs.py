"""What a delivery costs the database and the job engine: first attempts are
sent in batches of a lane, so the claim, the record and the engine's fetch
and finish are paid once per batch (issue 17: 10,000 deliveries a minute
from one worker). Counted, not timed."""

from __future__ import annotations

from sqlalchemy import text

from gateway.outbound.publish import publish
from gateway.outbound.tasks import BATCH
from gateway.runtime.services import Services
from tests.conftest import StatementCounter
from tests.integration.outbound.conftest import Inbox, endpoint_for, eventually, worker

POLL = "-- the test's own poll"


async def all_delivered(services: Services, total: int) -> bool:
    async with services.sessions() as session:
        found = await session.scalar(
            text(
                "SELECT count(*) FROM outbound_deliveries"
                f" WHERE status = 'delivered' {POLL}"
            )
        )
        return found == total


async def test_a_batch_of_first_attempts_costs_a_few_statements_and_one_job(
    outbound: Services, inbox: Inbox, sql: StatementCounter
) -> None:
    lanes = outbound.settings.outbound_endpoint_concurrency
    total = 2 * BATCH * lanes  # two full batches in each lane
    await endpoint_for(outbound, inbox, "bulk")
    for n in range(total):
        await publish(outbound, "customer.updated", {"n": n})
    assert outbound.jobs is not None
    queued = await outbound.jobs.job_manager.list_jobs_async(status="todo")
    assert len(queued) == lanes  # one job per lane, whatever the publishes
    sql.reset()
    async with worker(outbound, concurrency=lanes):
        await eventually(lambda: all_delivered(outbound, total))
    statements = [s for s in sql.statements if POLL not in s]
    # a full batch: the claim (UPDATE, SELECT), the record (UPDATE executemany,
    # multi-row INSERT) and, on PostgreSQL, the lane's next job; each lane's
    # last job claims nothing (one UPDATE)
    assert len(statements) <= lanes * (2 * 5 + 1)
    assert len(statements) / total <= 0.3  # one job per delivery: 4 (claim, record)
    jobs = await outbound.jobs.job_manager.list_jobs_async()
    assert len(jobs) == lanes * 3  # the last, finding nothing, may not have run
    assert len({r.msg_id for r in inbox.of("bulk")}) == total
