"""What an automation does: one executor per action kind, in a registry.

An executor runs inside the transaction that records its outcome on the run
(``gateway.automations.execute``), so a local write (a task, a tag) and "this
action is done" commit together: a run taken up again after a crash or a
retry starts at the first action not done, never doing one twice. It returns
its output (the task's id, the discount code…) and the ``CustomerChange``
kinds to announce after the commit. Actions run in order and each sees the
outputs of those before it (``Step.outputs``): a ``createDiscountCode``'s
code is there for a following ``webhook`` or ``addToList``.

``EXECUTORS`` holds the kinds this gateway runs: ``createTask``, ``tag``,
``untag``. ``webhook`` (signed outbound webhooks), ``addToList`` (an email
tool's list) and ``createDiscountCode`` (a Shopify code per customer) are
defined (``gateway.automations.definitions.ACTIONS``) and refused until their
executors are registered here; an executor that calls out of the database
must make its call idempotent by ``Step.key`` (the run and the action).

``preview`` says what an action would do, for a dry run: nothing is written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.relay import to_base64

from gateway.crm.customers import write_tags
from gateway.crm.tasks import add_task


@dataclass(frozen=True, slots=True)
class Step:
    """One action of one run, as its executor gets it."""

    run_id: int
    index: int
    customer_id: int
    automation: str
    """The automation's name: the actor of what it writes."""
    params: Mapping[str, Any]
    occasion: str
    trigger: str
    now: datetime
    outputs: Mapping[str, Any] = field(default_factory=dict)
    """Earlier actions' outputs by kind (``{"createDiscountCode": {"code": …}}``)."""

    @property
    def key(self) -> str:
        """Idempotency key of this action of this run, for calls out."""
        return f"automation-run-{self.run_id}-{self.index}"

    @property
    def actor(self) -> str:
        return f"automation: {self.automation}"[:200]


@dataclass(frozen=True, slots=True)
class Done:
    output: Mapping[str, Any]
    changes: tuple[str, ...] = ()
    """``CustomerChange`` kinds to announce (source ``crm``) after the commit."""


Executor = Callable[[AsyncSession, Step], Awaitable[Done]]


async def create_task(session: AsyncSession, step: Step) -> Done:
    days = step.params.get("dueInDays")
    due = step.now + timedelta(days=days) if days else None
    task = await add_task(
        session,
        step.customer_id,
        step.params["title"],
        due,
        step.params.get("assignee"),
        step.actor,
    )
    return Done({"taskId": task.id}, ("task_created",))


async def tag(session: AsyncSession, step: Step) -> Done:
    changed = await write_tags(
        session, step.customer_id, step.params["tags"], add=True, actor=step.actor
    )
    return Done({"tags": changed}, ("tag_added",) if changed else ())


async def untag(session: AsyncSession, step: Step) -> Done:
    changed = await write_tags(
        session, step.customer_id, step.params["tags"], add=False, actor=step.actor
    )
    return Done({"tags": changed}, ("tag_removed",) if changed else ())


EXECUTORS: dict[str, Executor] = {
    "createTask": create_task,
    "tag": tag,
    "untag": untag,
}


def preview(
    kind: str, params: Mapping[str, Any], customer_id: int, now: datetime
) -> dict[str, Any]:
    """The payload an action would act with, nothing written: a dry run."""
    customer = to_base64("Customer", customer_id)
    if kind == "createTask":
        days = params.get("dueInDays")
        due = now + timedelta(days=days) if days else None
        return {
            "customerId": customer,
            "title": params["title"],
            "assignee": params.get("assignee"),
            "dueAt": due.isoformat() if due else None,
        }
    if kind in ("tag", "untag"):
        return {"customerId": customer, "tags": sorted(set(params["tags"]))}
    return {"customerId": customer, **params}
