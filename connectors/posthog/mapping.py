"""PostHog JSON -> canonical models.

Person (``GET /api/projects/{id}/persons/?distinct_id=…``, one of ``results``)::

    {"id": 1042, "uuid": "0190c1c4-…", "name": "maya@example.com",
     "distinct_ids": ["maya@example.com", "0190c1c4-anon…"],
     "properties": {"email": "maya@example.com", "name": "Maya Lind", …},
     "created_at": "2025-03-20T13:14:09.402000Z", "last_seen_at": "…"|null}

``distinct_ids`` list the identified id first, so it is the person's external id.

Event row of the HogQL query (``results`` of a HogQLQueryResponse, in the order
of ``hogql.EVENT_COLUMNS``)::

    ["0190c1c4-…", "$pageview", "maya@example.com",
     "2025-03-20T13:14:09.402000Z", "https://shop.example/p/101", "/p/101",
     "0190c1c4-session…", "{\"$current_url\": …, \"product_id\": 101}"]

The last cell is the ``properties`` column, a JSON string as ClickHouse stores
it; missing properties are ``null`` cells. In an ``activity_query`` these cells
follow an ``'event'`` tag and precede a ``null``; its summary rows are::

    ["last_seen", null, null, "maya@example.com", "2025-03-20T13:14:09.402000Z",
     null, null, null, null, null]
    ["sessions", null, null, "maya@example.com", null, null, null, null, null, 4]

Person row of ``persons_query`` (one per distinct id of each person found)::

    ["0190c1c4-…", "maya@example.com", "2025-03-20T13:14:09.402000Z",
     "{\"email\": \"maya@example.com\", \"name\": \"Maya Lind\", …}"]
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from connectors.answers import reads_answers
from connectors.models import (
    ActivityEvent,
    ActivityKind,
    ExternalCustomer,
    PersonActivity,
    PersonSummary,
)

SOURCE = "posthog"

_KINDS = {
    "$pageview": ActivityKind.PAGE_VIEW,
    "Product Viewed": ActivityKind.PRODUCT_VIEW,
    "product_viewed": ActivityKind.PRODUCT_VIEW,
    "Product Added": ActivityKind.ADD_TO_CART,
    "add_to_cart": ActivityKind.ADD_TO_CART,
    "Products Searched": ActivityKind.SEARCH,
    "$search": ActivityKind.SEARCH,
    "$identify": ActivityKind.IDENTIFY,
}
EVENT_NAMES: frozenset[str] = frozenset(_KINDS)
"""The event names classified above: PostHog's own and the e-commerce spec's,
none of them the sender's own text."""

_KEPT_SYSTEM_PROPERTIES = ("$browser", "$os", "$device_type", "$referrer")


def parse_time(value: str) -> datetime:
    """``…402000Z`` (query API) or ``…402000+00:00`` (events REST) as UTC."""
    return datetime.fromisoformat(value).astimezone(UTC)


def kind_of(event: str) -> ActivityKind:
    return _KINDS.get(event, ActivityKind.CUSTOM)


@reads_answers(SOURCE)
def customer_from_person(person: Mapping[str, Any]) -> ExternalCustomer:
    props: Mapping[str, Any] = person.get("properties") or {}
    distinct_ids = list(person.get("distinct_ids") or ())
    email = props.get("email")
    first, _, last = str(props.get("name") or "").partition(" ")
    created = person.get("created_at")
    return ExternalCustomer(
        source=SOURCE,
        external_id=distinct_ids[0] if distinct_ids else str(person["uuid"]),
        email=email.lower() if isinstance(email, str) else None,
        phone=props.get("phone") or None,
        first_name=first or None,
        last_name=last or None,
        created_at=parse_time(created) if created else None,
        properties={
            "person_uuid": person.get("uuid"),
            "distinct_ids": tuple(distinct_ids),
            "last_seen_at": person.get("last_seen_at"),
        },
    )


def kept_properties(props: Mapping[str, Any]) -> dict[str, Any]:
    """The properties an ``ActivityEvent`` keeps: the sender's own, and of
    PostHog's ``$`` keys only browser, OS, device type and referrer."""
    return {
        k: v for k, v in props.items() if k[:1] != "$" or k in _KEPT_SYSTEM_PROPERTIES
    }


@reads_answers(SOURCE)
def event_from_row(row: Sequence[Any]) -> ActivityEvent:
    uuid, event, distinct_id, timestamp, url, path, session, raw_props = row
    props = orjson.loads(raw_props) if isinstance(raw_props, str) else {}
    return ActivityEvent(
        id=str(uuid),
        distinct_id=str(distinct_id),
        kind=kind_of(event),
        name=event,
        occurred_at=parse_time(timestamp),
        url=url,
        path=path,
        session_id=session,
        properties=kept_properties(props),
    )


_event: Callable[[Sequence[Any]], ActivityEvent] = event_from_row.__wrapped__  # type: ignore[attr-defined]
"""``event_from_row`` without its guard, for a reader that has its own
(``activity_from_rows``: a hundred rows a person)."""


@reads_answers(SOURCE)
def activity_from_rows(
    distinct_ids: Sequence[str], rows: Iterable[Sequence[Any]]
) -> dict[str, PersonActivity]:
    """Rows of ``activity_query`` (or ``summary_query``) per person; a person
    with no rows has no events, was never seen and had no sessions."""
    events: dict[str, list[ActivityEvent]] = {d: [] for d in distinct_ids}
    seen: dict[str, datetime] = {}
    sessions: dict[str, int] = {}
    for row in rows:
        part, distinct_id = row[0], str(row[3])
        if distinct_id not in events:
            continue
        if part == "event":
            events[distinct_id].append(_event(row[1:9]))
        elif part == "last_seen" and row[4]:
            seen[distinct_id] = parse_time(row[4])
        elif part == "sessions":
            sessions[distinct_id] = int(row[9])
    return {
        d: PersonActivity(
            events=tuple(sorted(mine, key=lambda e: e.occurred_at, reverse=True)),
            summary=PersonSummary(last_seen=seen.get(d), sessions=sessions.get(d, 0)),
        )
        for d, mine in events.items()
    }


def _anonymous(distinct_id: str) -> bool:
    """Browsers make up UUIDs (v7 in posthog-js) before a person is identified."""
    try:
        uuid.UUID(distinct_id)
    except ValueError:
        return False
    return True


@reads_answers(SOURCE)
def persons_from_rows(rows: Iterable[Sequence[Any]]) -> list[ExternalCustomer]:
    """Rows of ``persons_query``, one customer per person, its distinct ids
    ordered like the persons REST list: identified ones first."""
    people: dict[str, dict[str, Any]] = {}
    for person_id, distinct_id, created_at, properties in rows:
        person = people.setdefault(
            str(person_id),
            {
                "uuid": str(person_id),
                "created_at": created_at,
                "properties": orjson.loads(properties) if properties else {},
                "distinct_ids": [],
            },
        )
        person["distinct_ids"].append(str(distinct_id))
    for person in people.values():
        person["distinct_ids"].sort(key=lambda d: (_anonymous(d), d))
    return [customer_from_person(person) for person in people.values()]
