"""The inputs of automations: a trigger and an action are each exactly one of
their kinds (``@oneOf``); ``definition_json`` turns them into the JSON an
automation stores (GraphQL names, no nulls), which
``gateway.automations.definitions`` checks.

A trigger field that compares with personal data is in
``gateway.auth.policy.COMPARED`` under its coordinate:
``BirthdayTrigger.daysAhead`` (a birth date: admin) and
``BirthdayTrigger.monthAhead`` / ``inBirthdayMonth`` (the birth month, which
marketing sees).
"""

from __future__ import annotations

from typing import Any

import strawberry

from gateway.auth.policy import PiiKind
from gateway.schema.descriptions import role_refused
from gateway.schema.segment_inputs import DateTimeRange, SegmentFilter, filter_json


@strawberry.input(description="A saved segment, by name.")
class SegmentTrigger:
    segment: str = strawberry.field(description="The saved segment's name.")


@strawberry.input(
    description="A product bought runs out within `daysAhead` days (its"
    " replenishment date); of one SKU, of a category's products, or any."
)
class ReplenishmentTrigger:
    days_ahead: int = strawberry.field(description="0 to 365 days ahead.")
    sku: str | None = strawberry.field(default=None, description="Only this SKU.")
    category: str | None = strawberry.field(
        default=None, description="Only products of this category."
    )


@strawberry.input(
    description="A birthday coming: exactly one field. `daysAhead` is day-precise"
    " and needs a role that sees birth dates (admin); `monthAhead` and"
    " `inBirthdayMonth` are month-granular (marketing sees birth months) and"
    " fire from the 1st of the month."
)
class BirthdayTrigger:
    days_ahead: int | None = strawberry.field(
        default=None,
        description="The birthday is at most this many days away (0–365). "
        + role_refused(PiiKind.BIRTH_DATE),
    )
    month_ahead: int | None = strawberry.field(
        default=None,
        description="Born in the month this many months ahead (0–11). "
        + role_refused(PiiKind.BIRTH_MONTH),
    )
    in_birthday_month: bool | None = strawberry.field(
        default=None,
        description="True: born in the current month. "
        + role_refused(PiiKind.BIRTH_MONTH),
    )


@strawberry.input(description="A checkout left unpaid for this long, no order since.")
class CheckoutAbandonedTrigger:
    hours: int = strawberry.field(description="Hours since the checkout (1–720).")


@strawberry.input(description="No order for this many days (a last order exists).")
class NoOrderTrigger:
    days: int = strawberry.field(description="Days since the last order (1–3650).")


@strawberry.input(
    one_of=True, description="What fires the automation: exactly one field."
)
class AutomationTrigger:
    segment_entered: SegmentTrigger | None = strawberry.field(
        description="The customer entered the segment."
    )
    segment_exited: SegmentTrigger | None = strawberry.field(
        description="The customer left the segment."
    )
    order_placed: bool | None = strawberry.field(
        description="True: the customer placed an order (webhook)."
    )
    replenishment_due: ReplenishmentTrigger | None = strawberry.field(
        description="A product bought is about to run out."
    )
    birthday: BirthdayTrigger | None = strawberry.field(
        description="A birthday is coming."
    )
    ticket_rated_bad: bool | None = strawberry.field(
        description="True: the customer rated a ticket bad (webhook)."
    )
    checkout_abandoned: CheckoutAbandonedTrigger | None = strawberry.field(
        description="A checkout was left unpaid."
    )
    no_order: NoOrderTrigger | None = strawberry.field(
        description="The customer stopped ordering."
    )
    during: DateTimeRange | None = strawberry.field(
        description="A campaign on dates: every customer the conditions admit"
        " while now is within the span (both ends needed, at most 366 days;"
        " checked every quarter hour), once each. A span already over is"
        " BAD_USER_INPUT."
    )


@strawberry.input(description="Create a follow-up task on the customer.")
class CreateTaskAction:
    title: str = strawberry.field(description="The task's title.")
    assignee: str | None = strawberry.field(
        default=None, description="The colleague it is for."
    )
    due_in_days: int | None = strawberry.field(
        default=None, description="Due this many days after the run; no date if unset."
    )


@strawberry.input(description="Tags to add or remove.")
class TagAction:
    tags: list[str] = strawberry.field(description="1 to 20 tags.")


@strawberry.input(
    description="Send a signed event (Standard Webhooks) to the outbound webhook"
    " endpoints an admin registered for its type (createWebhookEndpoint)."
)
class WebhookAction:
    event: str = strawberry.field(
        description="The event type, e.g. `automation.birthday`: the endpoints"
        " whose eventTypes list it (or list none) receive it."
    )
    include_discount_code: bool | None = strawberry.field(
        default=None, description="Add the code an earlier action created."
    )


@strawberry.input(description="Add the customer to an email tool's list.")
class AddToListAction:
    list_id: str = strawberry.field(description="The list's id in the email tool.")
    include_discount_code: bool | None = strawberry.field(
        default=None,
        description="Set the code an earlier action created as a property.",
    )


@strawberry.input(
    description="Create a one-use Shopify discount code for the customer."
)
class CreateDiscountCodeAction:
    percent: int = strawberry.field(description="1 to 100 percent off.")
    category: str | None = strawberry.field(
        default=None,
        description="Only this category's products; the customer's favourite if unset.",
    )
    valid_days: int | None = strawberry.field(
        default=None, description="Days the code is valid (1–365; 30 if unset)."
    )


@strawberry.input(
    one_of=True,
    description="One action: exactly one field. Actions run in order; each sees"
    " the outputs of those before it (a discount code for a webhook or a list).",
)
class AutomationAction:
    create_task: CreateTaskAction | None = strawberry.field(
        description="Create a task."
    )
    tag: TagAction | None = strawberry.field(description="Add tags.")
    untag: TagAction | None = strawberry.field(description="Remove tags.")
    webhook: WebhookAction | None = strawberry.field(
        description="Send a signed webhook."
    )
    add_to_list: AddToListAction | None = strawberry.field(
        description="Add to an email tool's list."
    )
    create_discount_code: CreateDiscountCodeAction | None = strawberry.field(
        description="Create a discount code."
    )


@strawberry.input(description="An automation not saved: for a dry run.")
class AutomationDefinition:
    trigger: AutomationTrigger = strawberry.field(description="What fires it.")
    conditions: SegmentFilter | None = strawberry.field(
        default=None, description="Who of the triggered customers it runs for."
    )
    actions: list[AutomationAction] = strawberry.field(
        description="What it does, in order."
    )


def definition_json(
    trigger: object, conditions: object, actions: object
) -> dict[str, Any]:
    """The inputs as the JSON an automation stores (nulls left out)."""
    return {
        "trigger": filter_json(trigger) if trigger is not None else None,
        "conditions": filter_json(conditions) if conditions is not None else None,
        "actions": filter_json(actions) if actions is not None else None,
    }
