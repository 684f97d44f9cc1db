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
``untag`` write CRM rows; ``webhook`` publishes a signed event to the
outbound endpoints registered for its type (``gateway.outbound``: the
message, its deliveries and their jobs are written in the action's
transaction, so a run publishes it once);
``createDiscountCode`` makes the customer's Shopify code
(``gateway.promotions``: one code per run, so a retry sends the same code
and makes no second discount) and ``addToList`` subscribes the customer
to a Klaviyo list with email consent only (``gateway.audiences``; subscribing
twice is a no-op in Klaviyo). An executor that calls out of the database must
make its call idempotent by the run (``Step.run_id``, ``Step.key``).

``preview`` says what an action would do, for a dry run: nothing is written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.relay import to_base64

from connectors.errors import UpstreamUnavailable
from gateway.audiences.service import audiences_for
from gateway.auth.contact import ContactRow, contact_for
from gateway.auth.policy import Role
from gateway.crm.customers import write_tags
from gateway.crm.tasks import add_task
from gateway.db import models
from gateway.outbound.publish import publish
from gateway.promotions.service import DEFAULT_VALID_DAYS, create_promo_code

if TYPE_CHECKING:
    from gateway.runtime.services import Services


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
    services: Services
    """What an action calling out uses (its connectors, the sessions)."""
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


async def create_discount_code(session: AsyncSession, step: Step) -> Done:
    """The run's one code; ``promo_code_created`` is announced by
    ``create_promo_code`` once Shopify has it."""
    code = await create_promo_code(
        step.services,
        step.customer_id,
        step.params["percent"],
        category=step.params.get("category"),
        valid_days=step.params.get("validDays") or DEFAULT_VALID_DAYS,
        run_id=step.run_id,
    )
    return Done(
        {
            "code": code.code,
            "category": code.category,
            "endsAt": code.ends_at.isoformat(),
        }
    )


def discount_code(step: Step) -> str | None:
    """The code an earlier action made, when this action asks for it."""
    if not step.params.get("includeDiscountCode"):
        return None
    made: Mapping[str, Any] = step.outputs.get("createDiscountCode") or {}
    code = made.get("code")
    return code if isinstance(code, str) else None


async def add_to_list(session: AsyncSession, step: Step) -> Done:
    audiences = audiences_for(step.services)
    if audiences is None:
        raise UpstreamUnavailable("klaviyo", "not configured")
    code = discount_code(step)
    added = await audiences.add_to_list(
        step.customer_id,
        step.params["listId"],
        {"promoCode": code} if code is not None else None,
    )
    return Done({"listId": step.params["listId"], "result": added.value})


async def webhook(session: AsyncSession, step: Step) -> Done:
    """The event to every outbound endpoint registered for its type
    (``gateway.outbound``: signed, retried, dead-lettered there), published
    in the action's transaction. Its contact
    data is what consent allows whoever made the automation: the email with
    email consent, the phone with SMS consent (``contact_for`` under the
    marketing rule), else null."""
    payload = await webhook_payload(session, step)
    sent = await publish(
        step.services,
        step.params["event"],
        payload,
        customer_id=step.customer_id,
        session=session,
    )
    return Done({"event": step.params["event"], "deliveries": len(sent)})


async def webhook_payload(session: AsyncSession, step: Step) -> dict[str, Any]:
    customer = await session.get(models.Customer, step.customer_id)
    consents = await session.scalars(
        select(models.Consent).where(models.Consent.customer_id == step.customer_id)
    )
    contact = (
        contact_for(Role.MARKETING, ContactRow.of(customer, consents))
        if customer is not None
        else None
    )
    return {
        "automation": step.automation,
        "trigger": step.trigger,
        "occasion": step.occasion,
        "customer": {
            "id": to_base64("Customer", step.customer_id),
            "firstName": customer.first_name if customer is not None else None,
            "email": contact.email if contact is not None else None,
            "phone": contact.phone if contact is not None else None,
        },
        "discountCode": discount_code(step),
    }


EXECUTORS: dict[str, Executor] = {
    "webhook": webhook,
    "createTask": create_task,
    "tag": tag,
    "untag": untag,
    "createDiscountCode": create_discount_code,
    "addToList": add_to_list,
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
