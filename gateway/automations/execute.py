"""Running one run: its actions in order, each recorded as it is done.

The job ``automations:execute_run`` calls ``execute_run``. The run is claimed
by one conditional UPDATE (``pending``/``running``/``failed`` → ``running``,
counting the attempt): a run ``done`` or ``dead`` is left alone, whatever job
reaches it. Each action then commits with its outcome appended to the run
(``gateway.automations.actions``), and its changes are announced after that
commit; a run taken up again (a retry, a worker that died mid-run) starts at
the first action without an outcome.

An action that fails marks the run ``failed`` with a safe message and raises
``RunFailed``, so procrastinate retries the job with exponential backoff
(``CG_JOBS_RETRY_SECONDS``); the last attempt (``CG_JOBS_MAX_ATTEMPTS``)
marks it ``dead`` — the dead letter, which ``retryRun`` revives — and
procrastinate's job is ``failed``. A paused automation's runs are held:
not claimed, or stopped before their next action, and left ``pending`` (or
``failed``) for ``resumeAutomation`` to queue again. A finished run (``done``
or ``dead``) writes an ``automation_ran`` entry in the customer's history,
which the timeline shows — unless its definition compares with personal data
a role reading timelines does not see (``on_timeline``: birthday triggers).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.errors import ConnectorError, UpstreamRejected
from gateway.auth.policy import Role
from gateway.automations.actions import EXECUTORS, Done, Step
from gateway.automations.definitions import hidden_from, parse
from gateway.automations.tables import CLAIMABLE, Automation, AutomationRun
from gateway.changes import history
from gateway.changes.bus import ChangeBus, CustomerChange
from gateway.db.models import utcnow
from gateway.errors import BadUserInput, GatewayError, NotFound, describe

if TYPE_CHECKING:
    from gateway.runtime.services import Services

log = logging.getLogger("gateway.automations")
MAX_ERROR = 500


class RunFailed(Exception):
    """An action of a run failed and is worth another attempt; the message is
    safe to store and show."""


class RunDead(Exception):
    """An action of a run failed for good: the last attempt, or an error that
    another attempt would meet again (bad input, an upstream refusing the
    write: Shopify's ``userErrors``). procrastinate does not retry it."""


def retried(exc: BaseException) -> bool:
    """Whether another attempt may go better: not for our input errors nor an
    upstream's refusal of the write (``ConnectorError.transient``)."""
    if isinstance(exc, ConnectorError):
        return exc.transient
    return not isinstance(exc, BadUserInput | NotFound)


@dataclass(frozen=True, slots=True)
class Claimed:
    run: AutomationRun
    automation: Automation


def _active(automation_id: Any) -> ColumnElement[bool]:
    a = Automation
    return exists().where(a.id == automation_id, a.status == "active")


async def _claim(session: AsyncSession, run_id: int, now: datetime) -> Claimed | None:
    """The run, now ``running``; ``None`` when it is finished, gone, or its
    automation is paused (the run stays as it is, held until resumed)."""
    r = AutomationRun
    run = await session.scalar(
        update(r)
        .where(r.id == run_id, r.status.in_(CLAIMABLE), _active(r.automation_id))
        .values(
            status="running",
            attempts=r.attempts + 1,
            started_at=func.coalesce(r.started_at, now),
        )
        .returning(r)
        .execution_options(synchronize_session=False)
    )
    if run is None:
        return None
    automation = await session.get(Automation, run.automation_id)
    return Claimed(run, automation) if automation is not None else None


def on_timeline(automation: Automation) -> bool:
    """Whether a run goes on the customer's timeline: not when its definition
    compares with personal data some role reading timelines does not see (a
    birthday trigger's run, dated, tells the birthday's day or month)."""
    definition = parse(automation.trigger, automation.conditions, automation.actions)
    return not any(hidden_from(role, definition) for role in Role)


def safe_message(exc: BaseException) -> str:
    """What a failed action says on its run: our own errors' messages (written
    for clients), else the error's kind only."""
    if isinstance(exc, GatewayError):
        return exc.message[:MAX_ERROR]
    if isinstance(exc, UpstreamRejected):  # the upstream's words on our input
        return f"{exc.connector} refused it: {exc.detail}"[:MAX_ERROR]
    if isinstance(exc, ConnectorError):
        return f"{exc.connector} could not do it ({exc.code})."
    return f"The action failed ({type(exc).__name__})."


async def execute_run(
    services: Services, run_id: int, *, last_attempt: bool
) -> str | None:
    """Run ``run_id``'s remaining actions; returns its final status, or
    ``None`` when it was not to be run (done, dead or gone)."""
    sessions, changes = services.sessions, services.changes
    now = utcnow()
    async with sessions() as session, session.begin():
        claimed = await _claim(session, run_id, now)
    if claimed is None:
        return None
    run, automation = claimed.run, claimed.automation
    definition = parse(automation.trigger, automation.conditions, automation.actions)
    outcomes: list[dict[str, Any]] = list(run.outcomes or [])
    outputs = {o["kind"]: o.get("output") for o in outcomes}
    for index, (kind, params) in enumerate(definition.actions):
        if index < len(outcomes):
            continue
        step = Step(
            run_id, index, run.customer_id, automation.name, params,
            run.occasion, run.trigger, now, services, outputs,
        )  # fmt: skip
        try:
            done = await _act(sessions, kind, step, outcomes)
        except Exception as exc:  # any failure: recorded, then retried or dead
            final = last_attempt or not retried(exc)
            message = safe_message(exc)
            log.warning(
                "automation run %s: action %s (%s) failed: %s",
                run_id, index, kind, describe(exc),
            )  # fmt: skip
            status = "dead" if final else "failed"
            await _finish(sessions, changes, run, automation, status, message)
            raise (RunDead if final else RunFailed)(message) from exc
        if done is None:
            log.info("automation run %s held: its automation is paused", run_id)
            return "pending"
        outputs[kind] = dict(done.output)
        if done.changes:
            await changes.publish(
                *(CustomerChange(run.customer_id, "crm", k) for k in done.changes)
            )
    await _finish(sessions, changes, run, automation, "done", None)
    return "done"


async def _act(
    sessions: async_sessionmaker[AsyncSession],
    kind: str,
    step: Step,
    outcomes: list[dict[str, Any]],
) -> Done | None:
    """Do the action and append its outcome, in one transaction; ``None``
    (nothing done) when the run's automation is paused: the run is held."""
    executor = EXECUTORS.get(kind)
    if executor is None:
        raise RunFailed(f"This gateway cannot run `{kind}` actions.")
    async with sessions() as session, session.begin():
        r = AutomationRun
        on = await session.scalar(
            select(_active(r.automation_id)).where(r.id == step.run_id)
        )
        if not on:  # a read: SQLite's write lock is not taken yet
            held = update(r).where(r.id == step.run_id).values(status="pending")
            await session.execute(held)
            return None
        done = await executor(session, step)
        entry = {"kind": kind, "ok": True, "output": dict(done.output)}
        await session.execute(
            update(AutomationRun)
            .where(AutomationRun.id == step.run_id)
            .values(outcomes=[*outcomes, entry])
        )
    outcomes.append(entry)
    return done


async def _finish(
    sessions: async_sessionmaker[AsyncSession],
    changes: ChangeBus,
    run: AutomationRun,
    automation: Automation,
    status: str,
    error: str | None,
) -> None:
    final = status in ("done", "dead")
    async with sessions() as session, session.begin():
        await session.execute(
            update(AutomationRun)
            .where(AutomationRun.id == run.id)
            .values(status=status, error=error, finished_at=utcnow() if final else None)
        )
        if final and on_timeline(automation):
            history.record(
                session,
                run.customer_id,
                "automation_ran",
                f"Automation {automation.name}: {status}",
                actor=f"automation: {automation.name}"[:200],
                automation=automation.name,
                automation_id=automation.id,
                run_id=run.id,
                status=status,
                trigger=run.trigger,
            )
    if final:
        await changes.publish(CustomerChange(run.customer_id, "crm", "automation_ran"))
