"""When insights are recomputed: all at once, for one customer, on a schedule.

* ``refresh_all``: traits, RFM, the replenishment intervals learned from
  repeat purchases, and every segment's membership in one transaction
  (readers see the old or the new state, never half of each);
  ``customer-graph insights refresh`` and the scheduled task run it, one at
  a time across replicas (an advisory lock on PostgreSQL: a second one raises
  ``RefreshRunning`` at once instead of redoing the same work and colliding
  on the same rows). On PostgreSQL the
  transaction gets ``Settings.insights_work_mem`` and sorted rather than
  hashed aggregation (``plan_for_bulk``), and analyzes the tables it rewrote
  before the segments read them.
* ``record_orders``: an order webhook's facts plus that customer's traits and
  memberships, inside the webhook's own transaction (run-out dates are read
  from the facts, so they follow at once). RFM quintiles and learned
  intervals are relative to everyone, so they wait for the next full
  refresh.
* ``refresh_periodically``: the gateway's background task, started by the app
  lifespan when ``Settings.insights_refresh_interval`` is positive; a tick
  that finds another refresh running skips its turn.

Webhooks during a full refresh (PostgreSQL). A refresh of a million customers
holds its rows for tens of seconds, and computes them from what was committed
when its statements began. So the two take turns through a second advisory
lock, ``WRITERS_LOCK``: a webhook's per-customer refresh holds it shared, the
full refresh exclusive (waiting for the webhooks in flight, whose facts it then
reads). A webhook that cannot have it shared, because a full refresh runs,
stores its facts and marks the customer pending (``insights_pending``) instead
of waiting on the refresh's row locks (Shopify gives a delivery 5 s); after
its commit the full refresh brings the pending customers up to date.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.models import Order
from gateway.db.models import utcnow
from gateway.errors import describe
from gateway.insights.order_facts import Sessions, upsert_order_facts
from gateway.insights.replenishment import learn_intervals
from gateway.insights.rfm import refresh_rfm
from gateway.insights.segments import refresh_memberships
from gateway.insights.sql import analyze, plan_for_bulk, transaction_lock, upsert
from gateway.insights.tables import CustomerRfm, CustomerTraits, PendingCustomer
from gateway.insights.traits import refresh_traits
from gateway.settings import Settings

log = logging.getLogger("gateway.insights")
STEPS = ("traits", "rfm", "replenishment", "segments")
REFRESH_LOCK = 0x63675F72667368  # "cg_rfsh": one full refresh at a time
WRITERS_LOCK = 0x63675F77726974  # "cg_writ": a full refresh or webhooks' own


class RefreshRunning(Exception):
    """Another full refresh, on this or another replica, has not finished."""

    def __init__(self) -> None:
        super().__init__(
            "Another insights refresh is running; this one was not started."
        )


async def refresh_all(
    sessions: Sessions,
    settings: Settings,
    now: datetime | None = None,
    step_done: Callable[[str], None] | None = None,
) -> list[int]:
    """Everything, in one transaction; returns the ids of the segments skipped
    because their filters cannot be evaluated (``refresh_memberships``)."""
    now = now or utcnow()
    async with sessions() as session, session.begin():
        if not await transaction_lock(session, REFRESH_LOCK):
            raise RefreshRunning()
        await transaction_lock(session, WRITERS_LOCK, wait=True)
        await plan_for_bulk(session, settings.insights_work_mem)
        await refresh_traits(session, now)
        if step_done:
            step_done("traits")
        await refresh_rfm(session, now, settings.rfm_window_days)
        await analyze(session, CustomerTraits, CustomerRfm)
        if step_done:
            step_done("rfm")
        await learn_intervals(session, now)
        if step_done:
            step_done("replenishment")
        skipped = await refresh_memberships(session, now)
    await refresh_pending(sessions, now)
    if step_done:
        step_done("segments")
    return skipped


async def refresh_pending(sessions: Sessions, now: datetime) -> None:
    """Traits and memberships of the customers marked pending while a full
    refresh ran, and the marks removed, in one transaction. (A mark left by a
    run that stopped before this step is taken by the next one.)"""
    async with sessions() as session, session.begin():
        pending = list(
            await session.scalars(
                select(PendingCustomer.customer_id).with_for_update(skip_locked=True)
            )
        )
        if not pending:
            return
        await refresh_traits(session, now, pending)
        await refresh_memberships(session, now, pending)
        await session.execute(
            delete(PendingCustomer).where(PendingCustomer.customer_id.in_(pending))
        )


async def record_orders(
    session: AsyncSession,
    customer_id: int,
    orders: Sequence[Order],
    now: datetime | None = None,
) -> None:
    """Store ``orders`` and refresh what depends on them for this customer, or,
    while a full refresh runs, mark the customer pending for it."""
    now = now or utcnow()
    await upsert_order_facts(session, customer_id, orders)
    if not await transaction_lock(session, WRITERS_LOCK, shared=True):
        dialect = (await session.connection()).dialect.name
        mark = upsert(dialect, PendingCustomer.__table__).values(
            customer_id=customer_id, since=now
        )
        await session.execute(mark.on_conflict_do_nothing())
        return
    await refresh_traits(session, now, [customer_id])
    await refresh_memberships(session, now, [customer_id])


async def refresh_customers(session: AsyncSession, customer_ids: list[int]) -> None:
    """These customers' traits and segment memberships, from the facts each
    holds now, in the caller's transaction (a merge moved them)."""
    now = utcnow()
    await refresh_traits(session, now, customer_ids)
    await refresh_memberships(session, now, customer_ids)


async def refresh_periodically(
    sessions: Sessions,
    settings: Settings,
    refreshed: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Run ``refresh_all`` every ``insights_refresh_interval`` seconds until
    cancelled, then ``refreshed``; a failed run is logged and retried at the
    next tick."""
    while True:
        await asyncio.sleep(settings.insights_refresh_interval)
        try:
            await refresh_all(sessions, settings)
            if refreshed is not None:
                await refreshed()
        except RefreshRunning:
            log.info("scheduled insights refresh skipped: another one is running")
        except Exception as exc:  # the schedule must survive a bad run
            log.error("scheduled insights refresh failed: %s", describe(exc))
