"""Opening runs: the selected customers' rows in ``automation_runs`` and a
job for each, in one transaction.

``open_runs`` is one ``INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING
id``: the trigger's ``(customer_id, occasion)`` pairs, narrowed by the
automation's conditions (a ``SegmentFilter``, compiled as segments are), less
those that already have their run. Only the rows it inserted get a job
(``execute_run``), deferred in the same transaction (``gateway.jobs.deferral``):
of two evaluations racing, the second inserts nothing and defers nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from procrastinate import App
from sqlalchemy import JSON, Select, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.automations.definitions import Definition
from gateway.automations.tables import AutomationRun
from gateway.db.upsert import dialect_insert
from gateway.insights.segment_filter import segment_query
from gateway.jobs.deferral import Job, defer_with

Pairs = Select[*tuple[Any, ...]]
"""A ``SELECT customer_id, occasion``."""
NAMESPACE = "automations"
EXECUTE_RUN = f"{NAMESPACE}:execute_run"


def run_job(run_id: int) -> Job:
    """The job of a run: one at a time per run, whoever deferred it."""
    return Job({"run_id": run_id}, lock=f"automation_run:{run_id}")


def conditioned(pairs: Pairs, definition: Definition, now: datetime) -> Pairs:
    """``pairs`` (``customer_id``, ``occasion``) of customers who meet the
    conditions."""
    picked = pairs.subquery("picked")
    met = (
        picked.c.customer_id.in_(segment_query(definition.conditions, now))
        if definition.conditions
        else true()
    )
    return select(picked.c.customer_id, picked.c.occasion).where(met)


async def open_runs(
    session: AsyncSession,
    jobs: App,
    automation_id: int,
    definition: Definition,
    pairs: Pairs,
    now: datetime,
) -> list[int]:
    """Insert the runs ``pairs`` selects that do not exist yet; defer theirs."""
    chosen = conditioned(pairs, definition, now).subquery("chosen")
    rows = select(
        literal(automation_id),
        chosen.c.customer_id,
        chosen.c.occasion,
        literal(definition.trigger_kind),
        literal("pending"),
        literal(0),
        literal([], JSON),
        literal(now, AutomationRun.created_at.type),
    ).where(true())  # SQLite reads ON CONFLICT after a bare SELECT as a join's ON
    columns = [
        "automation_id",
        "customer_id",
        "occasion",
        "trigger",
        "status",
        "attempts",
        "outcomes",
        "created_at",
    ]
    insert = dialect_insert(session, AutomationRun)
    statement = (
        insert.from_select(columns, rows)
        .on_conflict_do_nothing(
            index_elements=["automation_id", "customer_id", "occasion"]
        )
        .returning(insert.table.c.id)
    )
    ids = list(await session.scalars(statement))
    await defer_with(session, jobs, EXECUTE_RUN, [run_job(i) for i in ids])
    return ids
