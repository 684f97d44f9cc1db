"""Every placement of the user's ids and traits (gateway/ingest/placements.py)
crossed with every message type, under both write keys: which customer each
stored event belongs to, which userId it keeps, what identify links and
creates.

A known customer (``known@example.com``) is linked to the userId
``known-uid``. The userId's placements find it under either key (anyone may
send any userId, as with Segment); the email's placements find it under the
server key only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from gateway.db import models
from gateway.runtime.services import Services
from tests.integration.gateway.ingest.rows import (
    count,
    customer_by_email,
    events,
    preferences,
)

pytestmark = pytest.mark.storage_independent

KNOWN_EMAIL = "known@example.com"
KNOWN_UID = "known-uid"


def base(kind: str) -> dict[str, Any]:
    """A message of ``kind`` with what its type requires, but no user id."""
    extra: dict[str, dict[str, Any]] = {
        "identify": {},
        "track": {"event": "Viewed"},
        "page": {"name": "Home"},
        "screen": {"name": "Home"},
        "group": {"groupId": "acme", "traits": {"name": "Acme"}},
    }
    return {"type": kind, "messageId": f"{kind}-1", **extra[kind]}


def merged(message: dict[str, Any], placed: dict[str, Any]) -> dict[str, Any]:
    """``message`` with ``placed`` merged into it, objects one level deep."""
    out = dict(message)
    for key, value in placed.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def external(name: str, kind: str, value: str) -> dict[str, Any]:
    entry = {"id": value, "type": kind}
    if name == "externalIds":  # Segment's entries carry two more fields
        entry |= {"collection": "users", "encoding": "none"}
    return {"context": {name: [entry]}}


USER_ID_PLACEMENTS: dict[str, Any] = {
    "userId": lambda uid: {"userId": uid},
    "context.traits.userId": lambda uid: {"context": {"traits": {"userId": uid}}},
    "context.traits.id": lambda uid: {"context": {"traits": {"id": uid}}},
    "context.externalIds user_id": lambda uid: external("externalIds", "user_id", uid),
    "context.externalId user_id": lambda uid: external("externalId", "user_id", uid),
    "traits.userId": lambda uid: {"traits": {"userId": uid}},
    "traits.id": lambda uid: {"traits": {"id": uid}},
}
KINDS = ["identify", "track", "page", "screen", "group"]
USER_ID_CASES = [
    (kind, placement)
    for kind in KINDS
    for placement in USER_ID_PLACEMENTS
    if kind == "identify" or not placement.startswith("traits.")
]


async def add_known(db: Services) -> int:
    async with db.sessions() as session, session.begin():
        customer = models.Customer(email=KNOWN_EMAIL)
        session.add(customer)
        await session.flush()
        session.add(
            models.Identity(
                customer_id=customer.id, source="segment", external_id=KNOWN_UID
            )
        )
        return customer.id


async def links(db: Services) -> dict[str, int]:
    async with db.sessions() as session:
        rows = await session.execute(
            select(models.Identity.external_id, models.Identity.customer_id)
        )
        return {external_id: customer_id for external_id, customer_id in rows}


def client_for(
    key: str, ingest: httpx.AsyncClient, trusted_ingest: httpx.AsyncClient
) -> httpx.AsyncClient:
    return trusted_ingest if key == "server" else ingest


@pytest.mark.parametrize("key", ["public", "server"])
@pytest.mark.parametrize(("kind", "placement"), USER_ID_CASES)
async def test_each_user_id_placement_finds_the_linked_customer(
    ingest: httpx.AsyncClient,
    trusted_ingest: httpx.AsyncClient,
    db: Services,
    key: str,
    kind: str,
    placement: str,
) -> None:
    known = await add_known(db)
    message = merged(base(kind), USER_ID_PLACEMENTS[placement](KNOWN_UID))
    client = client_for(key, ingest, trusted_ingest)
    response = await client.post("/v1/batch", json={"batch": [message]})
    assert response.json() == {"success": True}
    (stored,) = await events(db)
    assert (stored.user_id, stored.customer_id) == (KNOWN_UID, known)


async def test_a_groups_own_traits_never_name_the_user(
    trusted_ingest: httpx.AsyncClient, db: Services
) -> None:
    await add_known(db)
    group = merged(
        base("group"),
        {"anonymousId": "anon-1", "traits": {"id": KNOWN_UID, "email": KNOWN_EMAIL}},
    )
    response = await trusted_ingest.post("/v1/batch", json={"batch": [group]})
    assert response.json() == {"success": True}
    (stored,) = await events(db)
    assert (stored.user_id, stored.customer_id) == (None, None)
    assert stored.properties == {"name": "Acme", "id": KNOWN_UID, "email": KNOWN_EMAIL}


@pytest.mark.parametrize(
    "placement",
    ["userId", "context.externalIds user_id", "context.externalId user_id"],
)
async def test_a_trusted_alias_links_a_user_id_from_any_of_its_placements(
    trusted_ingest: httpx.AsyncClient, db: Services, placement: str
) -> None:
    known = await add_known(db)
    alias = merged(
        {"type": "alias", "previousId": KNOWN_UID},
        USER_ID_PLACEMENTS[placement]("new-uid"),
    )
    response = await trusted_ingest.post("/v1/batch", json={"batch": [alias]})
    assert response.json() == {"success": True}
    assert await links(db) == {KNOWN_UID: known, "new-uid": known}
    (stored,) = await events(db)
    assert (stored.user_id, stored.customer_id) == ("new-uid", known)


EMAIL_PLACEMENTS: dict[str, Any] = {
    "traits.email": lambda email: {"traits": {"email": email}},
    "context.traits.email": lambda email: {"context": {"traits": {"email": email}}},
    "properties.email": lambda email: {"properties": {"email": email}},
    "context.externalIds email": lambda email: external("externalIds", "email", email),
    "context.externalId email": lambda email: external("externalId", "email", email),
}
EMAIL_KINDS: dict[str, tuple[str, ...]] = {
    "identify": ("traits.email", "context.traits.email"),
    "track": ("context.traits.email", "properties.email"),
    "page": ("context.traits.email", "properties.email"),
    "screen": ("context.traits.email", "properties.email"),
    "group": ("context.traits.email",),
    "alias": ("context.traits.email",),
}
EMAIL_CASES = [
    (kind, placement)
    for kind, own in EMAIL_KINDS.items()
    for placement in (*own, "context.externalIds email", "context.externalId email")
]


def stranger(kind: str) -> dict[str, Any]:
    """A message of ``kind`` from the unlinked userId ``stranger``."""
    if kind == "alias":
        return {"type": "alias", "userId": "stranger", "previousId": "unknown"}
    return {**base(kind), "userId": "stranger"}


@pytest.mark.parametrize("key", ["public", "server"])
@pytest.mark.parametrize(("kind", "placement"), EMAIL_CASES)
async def test_an_email_placement_finds_the_customer_under_the_server_key_only(
    ingest: httpx.AsyncClient,
    trusted_ingest: httpx.AsyncClient,
    db: Services,
    key: str,
    kind: str,
    placement: str,
) -> None:
    known = await add_known(db)
    message = merged(stranger(kind), EMAIL_PLACEMENTS[placement]("KNOWN@example.com"))
    client = client_for(key, ingest, trusted_ingest)
    response = await client.post("/v1/batch", json={"batch": [message]})
    assert response.status_code == 200
    assert "errors" not in response.json()
    (stored,) = await events(db)
    assert stored.customer_id == (known if key == "server" else None)
    # only identify links its userId; under the public key it links nothing
    linked = {KNOWN_UID: known} | (
        {"stranger": known} if (kind, key) == ("identify", "server") else {}
    )
    assert await links(db) == linked
    assert await count(db, models.Customer) == 1


@pytest.mark.parametrize("key", ["public", "server"])
@pytest.mark.parametrize(
    "placement",
    [
        "traits.email",
        "context.traits.email",
        "context.externalIds email",
        "context.externalId email",
    ],
)
async def test_identify_creates_a_customer_from_any_email_placement(
    ingest: httpx.AsyncClient,
    trusted_ingest: httpx.AsyncClient,
    db: Services,
    key: str,
    placement: str,
) -> None:
    message = merged(
        {"type": "identify", "userId": "newbie", "traits": {"plan": "pro"}},
        EMAIL_PLACEMENTS[placement]("New@Example.com"),
    )
    client = client_for(key, ingest, trusted_ingest)
    response = await client.post("/v1/batch", json={"batch": [message]})
    assert response.json() == {"success": True}
    customer = await customer_by_email(db, "new@example.com")
    assert customer is not None
    assert await preferences(db, customer.id) == {"plan": "pro"}
    assert await links(db) == {"newbie": customer.id}
    (stored,) = await events(db)
    assert stored.customer_id == customer.id
    assert stored.properties["email"] == "New@Example.com"


@pytest.mark.parametrize("key", ["public", "server"])
async def test_identify_traits_in_both_placements_merge_and_the_top_level_wins(
    ingest: httpx.AsyncClient,
    trusted_ingest: httpx.AsyncClient,
    db: Services,
    key: str,
) -> None:
    message = {
        "type": "identify",
        "userId": "u-1",
        "traits": {"email": "top@example.com", "plan": "pro"},
        "context": {
            "traits": {
                "email": "context@example.com",
                "firstName": "Ana",
                "plan": "free",
                "seats": 3,
            }
        },
    }
    client = client_for(key, ingest, trusted_ingest)
    response = await client.post("/v1/batch", json={"batch": [message]})
    assert response.json() == {"success": True}
    assert await customer_by_email(db, "context@example.com") is None
    customer = await customer_by_email(db, "top@example.com")
    assert customer is not None
    assert customer.first_name == "Ana"
    assert await preferences(db, customer.id) == {"plan": "pro", "seats": "3"}


async def test_an_email_placement_that_is_no_email_is_a_warning_to_the_server_key(
    ingest: httpx.AsyncClient, trusted_ingest: httpx.AsyncClient, db: Services
) -> None:
    track = merged(stranger("track"), {"properties": {"email": "not-an-email"}})
    trusted = await trusted_ingest.post("/v1/batch", json={"batch": [track]})
    public = await ingest.post(
        "/v1/batch", json={"batch": [{**track, "messageId": "other"}]}
    )
    (warning,) = trusted.json()["warnings"]
    assert (warning["index"], warning["field"]) == (0, "properties.email")
    assert "Invalid email" in warning["message"]
    assert public.json() == {"success": True}  # never read under the public key
    assert [e.customer_id for e in await events(db)] == [None, None]


async def test_a_page_name_and_a_group_id_may_come_from_properties_and_traits(
    ingest: httpx.AsyncClient, db: Services
) -> None:
    batch = [
        {"type": "page", "userId": "u", "properties": {"name": "Pricing"}},
        {"type": "screen", "userId": "u", "name": "Top", "properties": {"name": "p"}},
        {"type": "group", "userId": "u", "traits": {"groupId": "acme"}},
    ]
    response = await ingest.post("/v1/batch", json={"batch": batch})
    assert response.json() == {"success": True}
    assert [(e.type, e.name) for e in await events(db)] == [
        ("page", "Pricing"),
        ("screen", "Top"),
        ("group", "acme"),
    ]


async def test_identify_refuses_context_traits_that_are_not_an_object(
    ingest: httpx.AsyncClient, db: Services
) -> None:
    batch = [
        {"type": "identify", "userId": "u", "context": {"traits": "x"}},
        {"type": "track", "userId": "u", "event": "E", "context": {"traits": "x"}},
    ]
    response = await ingest.post("/v1/batch", json={"batch": batch})
    (error,) = response.json()["errors"]
    assert (error["index"], error["code"]) == (0, "invalid_message")
    assert "context.traits" in error["message"]
    assert [e.type for e in await events(db)] == ["track"]


async def test_times_a_browser_sdk_and_a_relay_send_are_corrected_as_segment_does(
    ingest: httpx.AsyncClient, db: Services
) -> None:
    """RudderStack's and Segment's browser SDKs send originalTimestamp per
    message and sentAt per batch; a relayed message carries its receivedAt."""
    device_ahead = timedelta(hours=3)
    now = datetime.now(UTC)
    relayed_at = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    batch = [
        {
            "type": "track",
            "messageId": "browser",
            "anonymousId": "a",
            "event": "Clicked",
            "originalTimestamp": (
                now - timedelta(minutes=5) + device_ahead
            ).isoformat(),
        },
        {
            "type": "track",
            "messageId": "relayed",
            "anonymousId": "a",
            "event": "Clicked",
            "originalTimestamp": "2025-01-02T05:00:00Z",
            "sentAt": "2025-01-02T05:04:05Z",
            "receivedAt": relayed_at.isoformat(),
        },
    ]
    before = datetime.now(UTC)
    response = await ingest.post(
        "/v1/batch",
        json={"batch": batch, "sentAt": (now + device_ahead).isoformat()},
    )
    after = datetime.now(UTC)
    assert response.json() == {"success": True}
    stored = {e.message_id: e for e in await events(db)}
    # receivedAt − (sentAt − originalTimestamp): five minutes before we
    # received it, whatever the device's clock says
    browser = stored["browser"].occurred_at
    five = timedelta(minutes=5)
    assert before - five <= browser <= after - five
    assert stored["relayed"].occurred_at == relayed_at - timedelta(minutes=4, seconds=5)
    assert before <= stored["relayed"].received_at <= after
