"""An automation's definition read and checked: its trigger, its conditions
(a ``SegmentFilter``) and its ordered actions, as the JSON of their GraphQL
inputs (camelCase keys, nulls left out) — what ``automations`` stores.

Anything wrong is BAD_USER_INPUT naming the field
(``trigger.birthday.daysAhead``, ``actions[1].webhook.event``) before anything
is written: more or less than one trigger or action kind, a value out of
range, a ``during`` span over (when given), a segment, SKU or category nobody
has, a webhook event that is not an event type, a discount outside 1–100 %,
an action that passes on a discount code no earlier action creates (actions
run in order; each sees the outputs of those before it), an action kind this
gateway cannot run (``gateway.automations.actions.EXECUTORS``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audiences.connections import LIST_ID
from gateway.auth.policy import Role, may_compare
from gateway.automations.actions import EXECUTORS
from gateway.errors import BadUserInput, NotFound
from gateway.insights.catalogue import check_known
from gateway.insights.filter_values import fields, moment, text, whole
from gateway.insights.segment_filter import compile_filter, hidden_conditions
from gateway.insights.segment_rules import product_names
from gateway.insights.segments import segment_by_name
from gateway.insights.tables import Segment
from gateway.outbound.endpoints import EVENT_TYPE
from gateway.validation import clean_name, clean_text

Spec = Mapping[str, Any]
MAX_ACTIONS = 10
MAX_DAYS = 3650
MAX_TAGS = 20
MAX_SPAN = timedelta(days=366)
"""The longest ``during`` span."""
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
"""A ``during`` span lies between them: date arithmetic near ``datetime``'s
own ends (years 1 and 9999, or an offset past them) overflows."""
TAG_CHARS = 64
EVENT_NAMESPACE = "automation."
"""Every event an automation publishes has a type in it: one made by a
campaign manager never passes for another kind an endpoint listens to."""
TRIGGERS = {
    "segmentEntered": {"segment"},
    "segmentExited": {"segment"},
    "orderPlaced": set(),
    "replenishmentDue": {"daysAhead", "sku", "category"},
    "birthday": {"daysAhead", "monthAhead", "inBirthdayMonth"},
    "ticketRatedBad": set(),
    "checkoutAbandoned": {"hours"},
    "noOrder": {"days"},
    "during": {"from", "to"},
}
"""Each trigger kind and the fields its object takes (none: ``true``)."""
ACTIONS = {
    "createTask": {"title", "assignee", "dueInDays"},
    "tag": {"tags"},
    "untag": {"tags"},
    "webhook": {"event", "includeDiscountCode"},
    "addToList": {"listId", "includeDiscountCode"},
    "createDiscountCode": {"percent", "category", "validDays"},
}
"""Each action kind and its fields; a kind is run only when it has an
executor (``gateway.automations.actions.EXECUTORS``)."""
TRIGGER_TYPES = {
    "birthday": "BirthdayTrigger",
    "replenishmentDue": "ReplenishmentTrigger",
}
"""GraphQL input types of the triggers whose fields ``policy.COMPARED`` may name."""


@dataclass(frozen=True, slots=True)
class Definition:
    trigger_kind: str
    trigger: Spec
    conditions: Spec | None
    actions: Sequence[tuple[str, Spec]]


def _one(key: str, value: object, allowed: Mapping[str, set[str]]) -> tuple[str, Any]:
    if not isinstance(value, Mapping):
        raise BadUserInput(f"`{key}` is an object.", field=key)
    given = {k: v for k, v in value.items() if v is not None and v is not False}
    if len(given) != 1 or not given.keys() <= allowed.keys():
        kinds = ", ".join(sorted(allowed))
        raise BadUserInput(f"`{key}` takes exactly one of {kinds}.", field=key)
    ((kind, spec),) = given.items()
    return kind, spec


def read_trigger(value: object) -> tuple[str, Spec]:
    kind, spec = _one("trigger", value, TRIGGERS)
    key = f"trigger.{kind}"
    if not TRIGGERS[kind]:
        if spec is not True:
            raise BadUserInput(f"`{key}` takes true.", field=key)
        return kind, {}
    spec = fields(key, spec, TRIGGERS[kind])
    if kind in ("segmentEntered", "segmentExited"):
        text(f"{key}.segment", spec.get("segment"))
    elif kind == "replenishmentDue":
        whole(f"{key}.daysAhead", spec.get("daysAhead"), 0, 365)
        if "sku" in spec and "category" in spec:
            raise BadUserInput(f"`{key}` takes sku or category.", field=key)
    elif kind == "birthday":
        _birthday(key, spec)
    elif kind == "checkoutAbandoned":
        whole(f"{key}.hours", spec.get("hours"), 1, 24 * 30)
    elif kind == "noOrder":
        whole(f"{key}.days", spec.get("days"), 1, MAX_DAYS)
    elif kind == "during":
        _during(key, spec)
    return kind, spec


def _during(key: str, spec: Spec) -> None:
    if "from" not in spec or "to" not in spec:
        raise BadUserInput(f"`{key}` takes from and to.", field=key)
    start, end = moment(f"{key}.from", spec["from"]), moment(f"{key}.to", spec["to"])
    try:  # comparing aware times near year 1 or 9999 moves them past the ends
        inside = start >= EARLIEST and end <= LATEST
    except OverflowError:
        inside = False
    if not (inside and start <= end <= start + MAX_SPAN):
        raise BadUserInput(
            f"`{key}`: to is from or later, at most {MAX_SPAN.days} days on,"
            f" both within the years {EARLIEST.year}–{LATEST.year}.",
            field=f"{key}.to",
        )


def not_past(definition: Definition, now: datetime) -> None:
    """A ``during`` span given now must not be over: it would never fire."""
    spec = definition.trigger
    if definition.trigger_kind == "during" and moment("to", spec["to"]) < now:
        raise BadUserInput(
            "`trigger.during.to` is past: it would never fire.",
            field="trigger.during.to",
        )


def _birthday(key: str, spec: Spec) -> None:
    chosen = [k for k in ("daysAhead", "monthAhead", "inBirthdayMonth") if k in spec]
    if len(chosen) != 1:
        raise BadUserInput(
            f"`{key}` takes one of daysAhead, monthAhead, inBirthdayMonth.", field=key
        )
    if "daysAhead" in spec:
        whole(f"{key}.daysAhead", spec["daysAhead"], 0, 365)
    elif "monthAhead" in spec:
        whole(f"{key}.monthAhead", spec["monthAhead"], 0, 11)
    elif spec["inBirthdayMonth"] is not True:
        raise BadUserInput(f"`{key}.inBirthdayMonth` takes true.", field=key)


def read_actions(value: object) -> list[tuple[str, Spec]]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_ACTIONS:
        raise BadUserInput(
            f"`actions` takes 1 to {MAX_ACTIONS} actions.", field="actions"
        )
    actions: list[tuple[str, Spec]] = []
    for index, item in enumerate(value):
        kind, spec = _one(f"actions[{index}]", item, ACTIONS)
        key = f"actions[{index}].{kind}"
        spec = fields(key, spec, ACTIONS[kind])
        _check_action(key, kind, spec)
        coded = any(k == "createDiscountCode" for k, _ in actions)
        if kind == "createDiscountCode" and coded:
            raise BadUserInput("A run creates one discount code at most.", field=key)
        if spec.get("includeDiscountCode") and not coded:
            raise BadUserInput(
                f"`{key}.includeDiscountCode`: no earlier action creates a code.",
                field=f"{key}.includeDiscountCode",
            )
        actions.append((kind, spec))
    return actions


def _check_action(key: str, kind: str, spec: Spec) -> None:
    if kind == "createTask":
        # the bounds the task itself is written with (``crm.tasks.add_task``)
        clean_text(text(f"{key}.title", spec.get("title")), f"{key}.title", 300)
        if spec.get("assignee") is not None:
            assignee = text(f"{key}.assignee", spec["assignee"])
            clean_name(assignee, f"{key}.assignee", 200)
        whole(f"{key}.dueInDays", spec.get("dueInDays", 0), 0, MAX_DAYS)
    elif kind in ("tag", "untag"):
        tags = spec.get("tags")
        if not isinstance(tags, list) or not 1 <= len(tags) <= MAX_TAGS:
            raise BadUserInput(
                f"`{key}.tags` takes 1 to {MAX_TAGS} tags.", field=f"{key}.tags"
            )
        for tag in tags:  # the bounds of a tag written (``crm.customers``)
            clean_name(
                text(f"{key}.tags", tag),
                f"{key}.tags",
                TAG_CHARS,
                subject=f"A tag in `{key}.tags`",
            )
    elif kind == "webhook":
        event = text(f"{key}.event", spec.get("event"))
        if not (EVENT_TYPE.fullmatch(event) and event.startswith(EVENT_NAMESPACE)):
            raise BadUserInput(
                f"`{key}.event` is an event type in `{EVENT_NAMESPACE}`, such as"
                " `automation.birthday`: an endpoint can tell an automation's"
                " events from any other.",
                field=f"{key}.event",
            )
    elif kind == "addToList":
        if not LIST_ID.match(text(f"{key}.listId", spec.get("listId"))):
            raise BadUserInput("Not a Klaviyo list id.", field=f"{key}.listId")
    elif kind == "createDiscountCode":
        whole(f"{key}.percent", spec.get("percent"), 1, 100)
        whole(f"{key}.validDays", spec.get("validDays", 30), 1, 365)
        if "category" in spec:
            category = text(f"{key}.category", spec["category"])
            clean_name(category, f"{key}.category", 200)


def _check_runnable(actions: Sequence[tuple[str, Spec]]) -> None:
    for index, (kind, _) in enumerate(actions):
        if kind not in EXECUTORS:
            raise BadUserInput(
                f"This gateway cannot run `{kind}` actions yet.",
                field=f"actions[{index}].{kind}",
            )


def compared(definition: Definition) -> list[str]:
    """Schema coordinates of the definition's trigger fields (those named in
    ``TRIGGER_TYPES``) and conditions: what its runs tell about customers."""
    used = []
    named = TRIGGER_TYPES.get(definition.trigger_kind)
    if named:
        used += [f"{named}.{k}" for k in definition.trigger]
    return used


def hidden_from(
    role: Role, definition: Definition, segments: Mapping[str, Spec] | None = None
) -> list[str]:
    """What the definition compares with that ``role`` does not see in full:
    such a role may not create it, update it, dry-run it nor read its runs
    (they would tell it). A segment trigger compares what its segment's filter
    does: ``segments`` holds the saved filters by name (``segment_filters``)."""
    hidden = [c for c in compared(definition) if not may_compare(role, c)]
    if definition.conditions:
        hidden += hidden_conditions(role, definition.conditions)
    segment = (segments or {}).get(definition.trigger.get("segment", ""))
    if segment:
        hidden += hidden_conditions(role, segment)
    return sorted(set(hidden))


async def segment_filters(
    session: AsyncSession, definitions: Iterable[Definition]
) -> dict[str, Spec]:
    """The saved filters of the segments ``definitions`` trigger on, by name:
    one statement, none when no definition names a segment."""
    names = {d.trigger["segment"] for d in definitions if "segment" in d.trigger}
    if not names:
        return {}
    found = await session.execute(
        select(Segment.name, Segment.filter).where(Segment.name.in_(sorted(names)))
    )
    return {row.name: row.filter for row in found if row.filter}


def parse(trigger: object, conditions: object, actions: object) -> Definition:
    """The definition, checked for its shape (no database)."""
    kind, spec = read_trigger(trigger)
    if conditions is not None and not isinstance(conditions, Mapping):
        raise BadUserInput("`conditions` is a segment filter.", field="conditions")
    listed = read_actions(actions)
    return Definition(kind, spec, conditions or None, listed)


async def check(
    session: AsyncSession, definition: Definition, now: datetime
) -> Definition:
    """``definition`` checked against the data: conditions compile, the
    segment, SKUs and categories exist, every action can run."""
    if definition.conditions:
        compile_filter(definition.conditions, now)
    spec = definition.trigger
    if "segment" in spec:
        key = f"trigger.{definition.trigger_kind}.segment"
        try:
            await segment_by_name(session, spec["segment"])
        except NotFound as exc:
            raise BadUserInput("No segment has this name.", field=key) from exc
    skus, categories = product_names(definition.conditions or {})
    if definition.trigger_kind == "replenishmentDue":
        key = "trigger.replenishmentDue"
        if "sku" in spec:
            skus.append((f"{key}.sku", spec["sku"]))
        if "category" in spec:
            categories.append((f"{key}.category", spec["category"]))
    await check_known(session, skus, categories)
    _check_runnable(definition.actions)
    return definition
