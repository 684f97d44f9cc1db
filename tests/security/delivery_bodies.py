"""What the fuzz tests of the ingest and the webhooks send: Segment messages
and batches, Shopify order-, customer-, privacy- and refund-shaped bodies (whole
or with keys missing), Zendesk envelopes and PostHog destination deliveries,
every value drawn from ``hostile_json`` or of the wrong type, and well-formed
ones that name our customers (Shopify customers by their emails, linked
Zendesk users, linked PostHog distinct ids) so that their values also reach
the writes behind them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from connectors.shopify.webhooks import CUSTOMER_TOPICS, ORDER_TOPICS
from gateway.ingest.messages import TYPES
from gateway.webhooks.shopify import HANDLED
from tests.security.hostile_json import (
    BAD_TEXT,
    HUGE_NUMBERS,
    JSON,
    NUMBERS,
    sometimes,
)

TEXT = sometimes(st.text(max_size=40), BAD_TEXT, 4)
"""A field's text: with a NUL or a lone surrogate one time in four (inside
``JSON`` values such text is rarer, or nearly every body would hold some)."""

TIMESTAMPS = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.sampled_from(
        [
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "",
            "now",
            "2024-02-30T00:00:00Z",
        ]
    ),
    TEXT,
    JSON,
)
CONTACT = st.one_of(st.emails(), TEXT, st.none(), JSON)
ID = st.one_of(
    st.integers(min_value=1, max_value=2**53),
    st.integers().map(str),
    st.booleans(),
    HUGE_NUMBERS,
    BAD_TEXT,
    TEXT,
    JSON,
)
"""An upstream id: a plausible one, a number as a string, a boolean, a number
past 64 bits, hostile text, or anything."""
TRAITS = st.fixed_dictionaries(
    {},
    optional={
        "email": CONTACT,
        "phone": st.one_of(st.from_regex(r"\+[0-9]{6,15}", fullmatch=True), CONTACT),
        "firstName": CONTACT,
        "name": CONTACT,
        "birthday": TIMESTAMPS,
        "address": st.one_of(
            JSON,
            st.fixed_dictionaries(
                {},
                optional={
                    k: CONTACT
                    for k in ("street", "city", "postalCode", "country", "state")
                },
            ),
        ),
    },
)
MESSAGE = st.fixed_dictionaries(
    {},
    optional={
        "type": st.one_of(st.sampled_from(sorted(TYPES)), JSON),
        "userId": ID,
        "anonymousId": ID,
        "messageId": st.one_of(st.uuids().map(str), JSON),
        "timestamp": TIMESTAMPS,
        "sentAt": TIMESTAMPS,
        "traits": st.one_of(TRAITS, JSON),
        "event": st.one_of(TEXT, JSON),
        "properties": JSON,
        "context": st.one_of(
            st.fixed_dictionaries({}, optional={"traits": TRAITS}), JSON
        ),
        "previousId": ID,
        "groupId": ID,
    },
)
WELL_FORMED = st.fixed_dictionaries(
    {
        "type": st.sampled_from(sorted(TYPES)),
        "userId": st.text(min_size=1, max_size=20),
        "messageId": st.uuids().map(str),
        "event": st.text(min_size=1, max_size=20),
        "groupId": st.text(min_size=1, max_size=20),
        "previousId": st.text(min_size=1, max_size=20),
    },
    optional={"traits": TRAITS, "properties": JSON, "timestamp": TIMESTAMPS},
)
"""A message whose ids and names are plain, so that its hostile values
(traits, properties, times) reach the writes."""
MESSAGE |= WELL_FORMED
INGEST = st.one_of(
    st.tuples(st.sampled_from(sorted(TYPES)), MESSAGE),
    st.tuples(
        st.just("batch"),
        st.fixed_dictionaries(
            {"batch": st.one_of(st.lists(MESSAGE, max_size=5), JSON)},
            optional={"sentAt": TIMESTAMPS},
        ),
    ),
    st.tuples(st.sampled_from([*sorted(TYPES), "batch"]), JSON),
)


MONEY = st.one_of(
    st.decimals(min_value=0, max_value=10**6, places=2).map(str),
    NUMBERS,
    NUMBERS.map(str),
    st.sampled_from(["1e999999999", "-0", "NaN", "Infinity", "1_000"]),
    TEXT,
    JSON,
)
AMOUNT = sometimes(
    st.decimals(min_value=0, max_value=10**4, places=2),
    st.decimals(min_value=0, max_value=10**13, places=2),
    4,
).map(str)
"""Mostly prices, sometimes up to ten times the money columns' limit
(``NUMERIC(14, 2)``)."""
UTC_TIMES = st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat())
WELL_FORMED_ITEM = st.fixed_dictionaries(
    {
        "title": TEXT,
        "quantity": sometimes(st.integers(0, 20), st.integers(0, 2**63 - 1), 4),
        "price": AMOUNT,
    }
)
"""A line item of the right types whose sums may still pass a column."""
QUANTITY = st.one_of(st.integers(min_value=0, max_value=20), ID, NUMBERS)
LINE_ITEM = st.fixed_dictionaries(
    {"title": TEXT, "quantity": QUANTITY, "price": MONEY},
    optional={
        "id": ID,
        "admin_graphql_api_id": TEXT,
        "product_id": ID,
        "sku": TEXT,
        "total_discount": MONEY,
    },
)
REFUND = st.fixed_dictionaries(
    {"created_at": TIMESTAMPS},
    optional={
        "id": ID,
        "note": TEXT,
        "transactions": st.one_of(
            st.lists(st.fixed_dictionaries({"amount": MONEY}), max_size=2), JSON
        ),
    },
)


def shopify_deliveries(customers: list[dict[str, Any]]) -> Any:
    """(topic, body): order- and customer-shaped bodies (whole or with keys
    missing), privacy and refund bodies, and anything, for every handled topic."""
    known = st.sampled_from(customers)
    gid = known.map(lambda c: c["admin_graphql_api_id"])
    customer = st.one_of(
        st.fixed_dictionaries({"admin_graphql_api_id": gid}),
        st.fixed_dictionaries(
            {},
            optional={
                "id": ID,
                "admin_graphql_api_id": TEXT,
                "email": CONTACT,
                "phone": CONTACT,
            },
        ),
        JSON,
    )
    fields = {
        "id": ID,
        "admin_graphql_api_id": st.one_of(gid, TEXT),
        "name": TEXT,
        "currency": st.one_of(st.just("USD"), TEXT),
        "total_price": MONEY,
        "subtotal_price": MONEY,
        "created_at": st.one_of(UTC_TIMES, TIMESTAMPS),
        "cancelled_at": st.one_of(st.none(), TIMESTAMPS),
        "customer": customer,
        "line_items": st.one_of(st.lists(LINE_ITEM, max_size=3), JSON),
        "refunds": st.one_of(st.lists(REFUND, max_size=2), JSON),
        "email": CONTACT,
        "phone": CONTACT,
        "first_name": CONTACT,
        "tags": st.one_of(TEXT, JSON),
        "order_id": ID,
    }
    whole = ("id", "name", "currency", "total_price", "created_at", "customer")
    bodies = st.one_of(
        st.fixed_dictionaries(
            {k: fields[k] for k in whole},
            optional={k: v for k, v in fields.items() if k not in whole},
        ),
        st.fixed_dictionaries({}, optional=fields),
        JSON,
    )
    well_formed = st.fixed_dictionaries(
        {
            "id": st.integers(min_value=1, max_value=2**53),
            "name": TEXT,
            "currency": st.just("USD"),
            "total_price": AMOUNT,
            "created_at": UTC_TIMES,
            "customer": known,
            "line_items": st.lists(WELL_FORMED_ITEM, max_size=3),
        },
        optional={"refunds": st.lists(REFUND, max_size=2), "note": TEXT},
    )
    changed_customer = st.builds(
        lambda customer, changes: {**customer, **changes},
        known,
        st.fixed_dictionaries(
            {},
            optional={k: TEXT for k in ("first_name", "last_name", "note", "tags")},
        ),
    )
    return st.one_of(
        st.tuples(st.sampled_from(sorted(HANDLED)), bodies),
        st.tuples(st.sampled_from(sorted(ORDER_TOPICS)), well_formed),
        st.tuples(st.sampled_from(sorted(CUSTOMER_TOPICS)), changed_customer),
    )


EVENT_TYPES = [
    "zen:event-type:ticket.created",
    "zen:event-type:ticket.comment_added",
    "zen:event-type:user.created",
]


def zendesk_bodies(linked: list[str]) -> Any:
    """Well-formed envelopes (linked or plain user ids), envelopes whose
    ``detail`` is null, not an object, missing keys or carries hostile ids,
    and anything."""
    user = st.one_of(st.sampled_from(linked), ID) if linked else ID
    detail = st.fixed_dictionaries(
        {},
        optional={"id": user, "requester_id": user, "email": CONTACT, "status": TEXT},
    )
    plain = st.integers(1, 2**40).map(str)
    if linked:
        plain |= st.sampled_from(linked)
    well_formed = st.fixed_dictionaries(
        {
            "type": st.sampled_from(EVENT_TYPES),
            "id": st.uuids().map(str),
            "detail": st.fixed_dictionaries(
                {"id": plain, "requester_id": plain},
                optional={"status": TEXT, "subject": TEXT, "tags": JSON},
            ),
        },
        optional={"subject": TEXT, "time": TIMESTAMPS, "event": JSON},
    )
    envelope = st.fixed_dictionaries(
        {"type": st.one_of(st.sampled_from(EVENT_TYPES), TEXT, JSON)},
        optional={
            "id": st.one_of(st.uuids().map(str), ID),
            "time": TIMESTAMPS,
            "subject": TEXT,
            "detail": st.one_of(detail, JSON),
            "event": JSON,
        },
    )
    return st.one_of(well_formed, envelope, JSON)


def posthog_bodies(linked: list[str]) -> Any:
    """The destination template's body (its event of linked or any distinct
    ids, its uuid sometimes repeated), bodies with hostile fields, and
    anything."""
    distinct_id = st.one_of(st.sampled_from(linked), TEXT) if linked else TEXT
    properties = st.fixed_dictionaries(
        {},
        optional={
            "$current_url": st.one_of(TEXT, JSON),
            "$pathname": TEXT,
            "$session_id": st.one_of(st.uuids().map(str), TEXT, JSON),
            "sku": JSON,
        },
    )
    event_uuid = st.one_of(
        st.uuids().map(str), st.sampled_from(["0190c1c4-0000-7000-8000-000000000001"])
    )
    well_formed = st.fixed_dictionaries(
        {
            "event": st.fixed_dictionaries(
                {
                    "uuid": event_uuid,
                    "event": st.one_of(st.sampled_from(["$pageview", "x"]), TEXT),
                    "distinct_id": distinct_id,
                    "properties": properties,
                    "timestamp": st.datetimes(
                        min_value=datetime(1970, 1, 2),
                        max_value=datetime(2099, 12, 31),
                        timezones=st.just(UTC),
                    ).map(lambda d: d.isoformat()),
                },
                optional={"elements_chain": TEXT, "url": TEXT},
            ),
            "person": st.one_of(st.none(), JSON),
        }
    )
    hostile = st.fixed_dictionaries(
        {},
        optional={
            "event": st.one_of(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "uuid": st.one_of(event_uuid, ID),
                        "event": st.one_of(TEXT, JSON),
                        "name": TEXT,
                        "distinct_id": st.one_of(distinct_id, ID),
                        "properties": st.one_of(properties, JSON),
                        "timestamp": TIMESTAMPS,
                    },
                ),
                JSON,
            ),
            "person": JSON,
        },
    )
    return st.one_of(well_formed, hostile, JSON)
