"""Every source's mapping entry points, fed answers of a shape they do not
know: each field (nested ones too) removed, renamed, null, of another type; a
row cut short. Each variant maps, or raises ``UpstreamBadResponse`` naming the
source — never a ``KeyError``, ``TypeError`` or ``ValueError``, which the
gateway would answer as an internal error instead of the source's
``UPSTREAM_BAD_RESPONSE``. And the detail the logs get holds no value of the
answer (they may be personal data)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.errors import UpstreamBadResponse
from connectors.posthog import mapping as posthog
from connectors.shopify import mapping as shopify
from connectors.zendesk import mapping as zendesk
from tests.unit.connectors.test_shopify_mapping import CHECKOUT, CUSTOMER, ORDER
from tests.unit.connectors.test_zendesk_mapping import TICKET

USER = {
    "id": 30011220000001,
    "name": "Maya van Lind",
    "email": "Maya@Example.com",
    "phone": "+15550000001",
    "created_at": "2024-01-01T00:00:00Z",
    "tags": ["vip"],
}
COMMENT = {
    "id": 40011220000001,
    "author_id": 30011219999001,
    "plain_body": "note",
    "public": False,
    "created_at": "2025-02-20T16:05:31Z",
}
RATING = {
    "id": 5,
    "ticket_id": 10042,
    "score": "good",
    "comment": "Quick, thanks",
    "created_at": "2025-03-01T10:00:00Z",
}
PERSON = {
    "id": 1042,
    "uuid": "0190c1c4-aaaa-7000-8000-000000000001",
    "distinct_ids": ["maya@example.com", "0190c1c4-anon"],
    "properties": {"email": "maya@example.com", "name": "Maya Lind"},
    "created_at": "2025-03-20T13:14:09.402000Z",
}
EVENT_ROW = [
    "0190c1c4-0000-7000-8000-000000000001",
    "$pageview",
    "maya@example.com",
    "2025-03-20T13:14:09.402000Z",
    "https://s.example/p/1",
    "/p/1",
    "sess-1",
    json.dumps({"sku": "A1"}),
]
ACTIVITY_ROWS = [
    [
        "event",
        "e1",
        "$pageview",
        "a",
        "2025-03-20T13:00:00Z",
        None,
        "/",
        "s1",
        "{}",
        None,
    ],
    [
        "last_seen",
        None,
        None,
        "a",
        "2025-03-20T14:00:00Z",
        None,
        None,
        None,
        None,
        None,
    ],
    ["sessions", None, None, "a", None, None, None, None, None, 3],
]
PERSON_ROWS = [
    ["p1", "maya@example.com", "2025-03-20T13:14:09Z", json.dumps(PERSON["properties"])]
]

Read = Callable[[Any], object]
ENTRY_POINTS: dict[str, tuple[str, Read, Any]] = {
    "shopify customer": ("shopify", shopify.customer, CUSTOMER),
    "shopify order": ("shopify", shopify.order, ORDER),
    "shopify order summary": ("shopify", shopify.order_summary, ORDER),
    "shopify checkout": ("shopify", shopify.checkout, CHECKOUT),
    "zendesk user": ("zendesk", zendesk.customer_from_user, USER),
    "zendesk ticket": ("zendesk", zendesk.ticket_from_json, TICKET),
    "zendesk comment": (
        "zendesk",
        lambda c: zendesk.comment_from_json("10042", c),
        COMMENT,
    ),
    "zendesk rating": ("zendesk", zendesk.satisfaction_from_rating, RATING),
    "posthog person": ("posthog", posthog.customer_from_person, PERSON),
    "posthog event row": ("posthog", posthog.event_from_row, EVENT_ROW),
    "posthog activity rows": (
        "posthog",
        lambda rows: posthog.activity_from_rows(["a"], rows),
        ACTIVITY_ROWS,
    ),
    "posthog person rows": ("posthog", posthog.persons_from_rows, PERSON_ROWS),
}
"""Each entry point: its source, how it is called, an answer it reads."""

STRANGER = "4111-1111-1111-1111 maya@example.com"
"""A value no detail may repeat."""


def variants(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """``(what changed, the changed copy)`` for every field of ``value``."""
    if isinstance(value, dict):
        for key in value:
            for change, replaced in (
                ("removed", None),
                ("renamed", None),
                ("null", None),
                ("a list", []),
                ("a stranger", STRANGER),
            ):
                copied = copy.copy(value)
                if change in ("removed", "renamed"):
                    del copied[key]
                    if change == "renamed":
                        copied[f"{key}_v2"] = value[key]
                else:
                    copied[key] = replaced
                yield f"{path}.{key} {change}", copied
            for change, inner in variants(value[key], f"{path}.{key}"):
                yield change, {**value, key: inner}
    elif isinstance(value, list):
        for length in range(len(value)):
            yield f"{path} cut to {length}", value[:length]
        for index, item in enumerate(value):
            for change, inner in variants(item, f"{path}[{index}]"):
                yield change, [*value[:index], inner, *value[index + 1 :]]


def cases() -> Iterator[Any]:
    for name, (source, read, sample) in ENTRY_POINTS.items():
        for change, answer in variants(sample):
            yield pytest.param(source, read, answer, id=f"{name}: {change}")


def refusal(read: Read, answer: Any) -> UpstreamBadResponse | None:
    """The bad response ``read`` raised for ``answer``; ``None`` if it mapped."""
    try:
        read(answer)
    except UpstreamBadResponse as exc:
        return exc
    return None


def test_every_sample_maps_as_it_is() -> None:
    for _, read, sample in ENTRY_POINTS.values():
        assert read(copy.deepcopy(sample)) is not None


@pytest.mark.parametrize(("source", "read", "answer"), list(cases()))
def test_an_answer_of_another_shape_maps_or_is_a_bad_response(
    source: str, read: Read, answer: Any
) -> None:
    refused = refusal(read, answer)
    if refused is not None:
        assert (refused.connector, refused.code) == (source, "UPSTREAM_BAD_RESPONSE")
        assert STRANGER not in refused.detail
        assert "maya" not in refused.detail.lower()


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("shopify order", "createdAt"),
        ("shopify customer", "id"),
        ("shopify checkout", "totalPriceSet"),
        ("zendesk ticket", "created_at"),
        ("zendesk user", "id"),
        ("zendesk comment", "created_at"),
    ],
)
def test_a_field_the_mapping_needs_missing_is_a_bad_response_naming_it(
    name: str, field: str
) -> None:
    source, read, sample = ENTRY_POINTS[name]
    answer = {k: v for k, v in sample.items() if k != field}
    with pytest.raises(UpstreamBadResponse) as raised:
        read(answer)
    assert raised.value.connector == source
    assert repr(field) in raised.value.detail


def test_a_person_without_distinct_ids_or_uuid_is_a_bad_response() -> None:
    answer = {k: v for k, v in PERSON.items() if k not in ("distinct_ids", "uuid")}
    with pytest.raises(UpstreamBadResponse, match="'uuid'"):
        posthog.customer_from_person(answer)
