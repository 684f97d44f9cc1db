"""Durable, shared, exactly once (PostgreSQL: on SQLite jobs live in memory).

Two ``customer-graph worker`` processes evaluate the same daily trigger at the
same time and share its runs: one run per customer and occasion, one task
each. A worker killed (SIGKILL) in the middle of a run's action leaves
nothing half-written; the run is taken up again (stalled-job recovery) and
completes once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from gateway.automations.evaluate import evaluate_all
from gateway.automations.tables import AutomationRun
from gateway.db import models
from gateway.jobs.engine import is_durable
from gateway.jobs.recovery import recover_stalled
from gateway.runtime.services import Services
from tests.integration.automations.conftest import Drain
from tests.integration.automations.helpers import Api, created, customer, runs
from tests.integration.automations.test_triggers import born

ROOT = Path(__file__).resolve().parents[3]
CUSTOMERS = 30


@pytest.fixture
def pg(env: Services) -> Services:
    if not is_durable(env.jobs):
        pytest.skip("jobs are durable and shared on PostgreSQL only")
    return env


def worker(env: Services, cwd: Path, *extra: str) -> subprocess.Popen[bytes]:
    """A ``customer-graph worker`` process on the test's database."""
    variables = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CG_DATABASE_URL": env.settings.database_url,
        "CG_JOBS_RETRY_SECONDS": "0",
        "CG_JOBS_STALLED_SECONDS": "1",
        "CG_INSIGHTS_REFRESH_INTERVAL": "0",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "worker", *extra],
        cwd=cwd,
        env=variables,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


async def _tasks_by_customer(env: Services) -> dict[int, int]:
    async with env.sessions() as session:
        rows = await session.execute(
            select(models.Task.customer_id, func.count()).group_by(
                models.Task.customer_id
            )
        )
        return {customer_id: n for customer_id, n in rows}


async def test_two_workers_evaluating_the_same_trigger_open_one_run_each(
    pg: Services,
    api: Api,
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    people = [
        await customer(pg, f"twice{i}@example.com", birth=born(2))
        for i in range(CUSTOMERS)
    ]
    await created(api, "Birthday, once", {"birthday": {"daysAhead": 7}})
    tick = int(datetime.now(UTC).timestamp())
    evaluate = pg.jobs.configure_task("automations:evaluate")
    await evaluate.defer_async(timestamp=tick)
    await evaluate.defer_async(timestamp=tick)
    # Round one evaluates (each worker takes one evaluate job, at once); a
    # worker run until idle stops once it has caught up, so round two shares
    # the runs' jobs the evaluation deferred.
    for _ in range(2):
        both = [worker(pg, tmp_path, "--until-idle") for _ in range(2)]
        processes += both
        codes = await asyncio.gather(*(asyncio.to_thread(p.wait, 120) for p in both))
        logs = [p.stdout.read().decode() if p.stdout else "" for p in both]
        assert codes == [0, 0], logs
    found = await runs(pg)
    assert sorted(r.customer_id for r in found) == sorted(people)
    assert {r.status for r in found} == {"done"}
    assert await _tasks_by_customer(pg) == dict.fromkeys(people, 1)


async def test_a_worker_killed_mid_run_leaves_the_run_to_complete_once(
    pg: Services,
    api: Api,
    work: Drain,
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    who = await customer(pg, "killed@example.com", birth=born(2))
    await created(api, "Survives a crash", {"birthday": {"daysAhead": 7}})
    await evaluate_all(pg.sessions, pg.jobs, datetime.now(UTC))
    async with pg.engine.connect() as holder:
        transaction = await holder.begin()
        # The task's INSERT checks its customer (FOR KEY SHARE): it waits here.
        await holder.execute(
            text("SELECT id FROM customers WHERE id = :id FOR UPDATE"), {"id": who}
        )
        processes.append(worker(pg, tmp_path))
        for _ in range(300):
            (run,) = await runs(pg)
            if run.status == "running":
                break
            await asyncio.sleep(0.1)
        assert run.status == "running"
        processes[0].send_signal(signal.SIGKILL)
        processes[0].wait()
        await transaction.rollback()
    await asyncio.sleep(2 * pg.settings.jobs_stalled_seconds)  # its heartbeat stops

    class Context:  # what the periodic recovery task is given
        app = pg.jobs
        additional_context = {"services": pg}

    await recover_stalled(Context(), 0)  # type: ignore[arg-type]
    await work()
    (run,) = await runs(pg)
    assert (run.status, run.attempts) == ("done", 2)
    assert await _tasks_by_customer(pg) == {who: 1}
    async with pg.sessions() as session:
        assert (
            await session.scalar(select(func.count()).select_from(AutomationRun)) == 1
        )
