"""The Segment-compatible ingest, driven by Segment's own Python library over
real HTTP and by hand-made requests for everything a library would not send."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from segment.analytics import Client
from segment.analytics.request import APIError
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from connectors.simulator_server import serve_app
from gateway.app import create_app
from gateway.changes.bus import CustomerChange
from gateway.db import models
from gateway.runtime.services import Services
from tests.conftest import StatementCounter
from tests.integration.gateway.ingest.rows import (
    SERVER_WRITE_KEY,
    WRITE_KEY,
    count,
    customer_by_email,
    events,
    preferences,
    track,
)


@pytest.fixture
async def server(ingest_services: Services) -> AsyncIterator[str]:
    async with serve_app(create_app(services=ingest_services)) as base_url:
        yield base_url


@pytest.fixture
def changes(ingest_services: Services) -> Iterator[list[CustomerChange]]:
    seen: list[CustomerChange] = []

    async def collect(change: CustomerChange) -> None:
        seen.append(change)

    unsubscribe = ingest_services.changes.subscribe(collect)
    yield seen
    unsubscribe()


# The real Segment library


async def test_the_segment_library_in_sync_mode_identifies_and_tracks(
    server: str, db: Services
) -> None:
    segment = Client(WRITE_KEY, host=server, sync_mode=True)
    await asyncio.to_thread(
        segment.identify,
        "user-42",
        {"email": "Maya.Lopez@Example.com", "firstName": "Maya", "plan": "pro"},
    )
    await asyncio.to_thread(
        segment.track, "user-42", "Order Completed", {"total": 42.5}
    )
    await asyncio.to_thread(
        segment.page, "user-42", "Docs", "Install", {"path": "/docs/install"}
    )
    customer = await customer_by_email(db, "maya.lopez@example.com")
    assert customer is not None
    assert customer.first_name == "Maya"
    assert await preferences(db, customer.id) == {"plan": "pro"}
    stored = await events(db)
    assert [(e.type, e.name) for e in stored] == [
        ("identify", None),
        ("track", "Order Completed"),
        ("page", "Install"),
    ]
    assert {e.customer_id for e in stored} == {customer.id}
    assert stored[1].properties == {"total": 42.5}
    assert stored[2].properties == {"path": "/docs/install", "category": "Docs"}
    assert stored[1].context["library"]["name"] == "analytics-python"


async def test_the_segment_library_batches_in_the_background_and_flushes(
    server: str, db: Services
) -> None:
    segment = Client(WRITE_KEY, host=server, upload_interval=0.05, upload_size=10)
    try:
        for i in range(25):
            segment.track(f"user-{i % 3}", "Clicked", {"i": i})
        await asyncio.to_thread(segment.flush)
    finally:
        await asyncio.to_thread(segment.join)
    stored = await events(db)
    assert sorted(e.properties["i"] for e in stored) == list(range(25))
    assert len({e.message_id for e in stored}) == 25


async def test_the_segment_library_sees_a_wrong_write_key_as_a_401(
    server: str, db: Services
) -> None:
    segment = Client("not-the-key", host=server, sync_mode=True)
    with pytest.raises(APIError) as raised:
        await asyncio.to_thread(segment.track, "user-1", "Clicked")
    assert (raised.value.status, raised.value.code) == (401, "unauthorized")
    assert await count(db, models.TrackedEvent) == 0


# Write key


async def test_a_wrong_or_missing_write_key_is_401_and_nothing_is_stored(
    ingest: httpx.AsyncClient, db: Services
) -> None:
    body = track("m1")
    wrong = await ingest.post("/v1/track", json=body, auth=("nope", ""))
    ingest.auth = None
    missing = await ingest.post("/v1/track", json=body)
    bearer = await ingest.post(
        "/v1/track", json=body, headers={"Authorization": "Bearer x"}
    )
    for response in (wrong, missing, bearer):
        assert response.status_code == 401
        assert response.json()["success"] is False
        assert response.json()["code"] == "unauthorized"
    assert wrong.headers["www-authenticate"] == 'Basic realm="ingest"'
    assert await count(db, models.TrackedEvent) == 0


async def test_the_write_key_may_come_in_the_body_as_segment_allows(
    ingest: httpx.AsyncClient, db: Services
) -> None:
    ingest.auth = None
    ok = await ingest.post("/v1/track", json={**track("m1"), "writeKey": WRITE_KEY})
    bad = await ingest.post("/v1/track", json={**track("m2"), "writeKey": "x"})
    assert (ok.status_code, ok.json()) == (200, {"success": True})
    assert bad.status_code == 401
    assert [e.message_id for e in await events(db)] == ["m1"]


CONFLICT = {
    "success": False,
    "code": "conflicting_write_keys",
    "message": "the Basic credentials and the body's writeKey differ, or the body "
    "names writeKey twice: send one key",
}


@pytest.mark.parametrize(
    ("header", "body"),
    [
        (WRITE_KEY, "x"),  # a valid key in the header, another in the body
        (WRITE_KEY, 1),
        (WRITE_KEY, WRITE_KEY.upper()),
    ],
    ids=["another key", "not a string", "another case"],
)
async def test_two_different_write_keys_are_refused_and_nothing_is_stored(
    ingest: httpx.AsyncClient, db: Services, header: str, body: object
) -> None:
    """Two credentials, as two Authorization headers: the gateway would read
    one, and whatever sits in front of it (a proxy, a WAF, a log) maybe the
    other."""
    ingest.auth = (header, "")
    for path, payload in (
        ("/v1/track", {**track("m1"), "writeKey": body}),
        ("/v1/batch", {"batch": [track("m2")], "writeKey": body}),
    ):
        refused = await ingest.post(path, json=payload)
        assert refused.status_code == 400
        assert refused.json() == CONFLICT
    same = await ingest.post("/v1/track", json={**track("m3"), "writeKey": header})
    assert (same.status_code, same.json()) == (200, {"success": True})
    assert [e.message_id for e in await events(db)] == ["m3"]


def raw_track(*fields: tuple[str, object]) -> bytes:
    """A track message as written, its names as given: twice, or escaped
    (``\\u0077`` is ``w``), as no dict could hold them."""
    written = [("type", "track"), ("userId", "u1"), ("event", "Viewed")]
    written += [("messageId", "m1"), *fields]
    return (
        "{" + ", ".join(f'"{name}": {json.dumps(v)}' for name, v in written) + "}"
    ).encode()


REPEATED = {
    # orjson keeps the last of two names; a proxy or WAF may read the first
    "server key, then public": [
        ("writeKey", SERVER_WRITE_KEY),
        ("writeKey", WRITE_KEY),
    ],
    "public key, then server": [
        ("writeKey", WRITE_KEY),
        ("writeKey", SERVER_WRITE_KEY),
    ],
    "the same key twice": [("writeKey", WRITE_KEY), ("writeKey", WRITE_KEY)],
    "the second behind escapes": [
        ("writeKey", SERVER_WRITE_KEY),
        ("\\u0077rite\\u004bey", WRITE_KEY),
    ],
}


@pytest.mark.parametrize("case", REPEATED, ids=str)
@pytest.mark.parametrize("header", [True, False], ids=["with Basic", "body only"])
async def test_a_body_naming_write_key_twice_is_refused_and_nothing_is_stored(
    ingest: httpx.AsyncClient, db: Services, case: str, header: bool
) -> None:
    ingest.auth = (WRITE_KEY, "") if header else None
    refused = await ingest.post(
        "/v1/track",
        content=raw_track(*REPEATED[case]),
        headers={"Content-Type": "application/json"},
    )
    assert (refused.status_code, refused.json()) == (400, CONFLICT)
    assert await events(db) == []


async def test_escapes_elsewhere_in_a_body_are_served(
    ingest: httpx.AsyncClient, db: Services
) -> None:
    """Python's json module escapes every non-ASCII character (Segment's
    Python library sends bodies so), and a message may spell its own fields
    with escapes: only a second ``writeKey`` is refused."""
    body = raw_track(("writeKey", WRITE_KEY)).replace(
        b'"messageId"',
        b'"properties": {"name": "Ma\\u00efa", '
        b'"\\u0077riteKey": "a field of the message, not its key"}, "messageId"',
    )
    served = await ingest.post(
        "/v1/track", content=body, headers={"Content-Type": "application/json"}
    )
    assert (served.status_code, served.json()) == (200, {"success": True})
    assert [e.message_id for e in await events(db)] == ["m1"]


async def test_without_a_configured_write_key_the_ingest_is_disabled(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/track", json=track("m1"), auth=("k", ""))
    assert response.status_code == 503
    assert response.json()["code"] == "ingest_disabled"


# Bad input


@pytest.mark.parametrize(
    ("path", "content", "code", "reason"),
    [
        ("/v1/track", b'{"userId": "u", ', "invalid_json", "malformed JSON"),
        ("/v1/track", b"[1, 2]", "invalid_json", "must be a JSON object"),
        ("/v1/batch", b'{"batch": {}}', "invalid_message", "batch must be an array"),
        (
            "/v1/track",
            b'{"event": "Viewed"}',
            "invalid_message",
            "userId or anonymousId is required",
        ),
        ("/v1/track", b'{"userId": "u"}', "invalid_message", "needs an event"),
        (
            "/v1/track",
            b'{"userId": "u", "event": "e", "timestamp": "yesterday"}',
            "invalid_timestamp",
            "not an ISO 8601 time",
        ),
        ("/v1/alias", b'{"userId": "u"}', "invalid_message", "previousId"),
    ],
)
async def test_a_bad_body_is_400_with_the_reason_and_nothing_is_stored(
    ingest: httpx.AsyncClient,
    db: Services,
    path: str,
    content: bytes,
    code: str,
    reason: str,
) -> None:
    response = await ingest.post(path, content=content)
    assert response.status_code == 400
    body = response.json()
    assert (body["success"], body["code"]) == (False, code)
    assert reason in body["message"]
    assert await count(db, models.TrackedEvent) == 0


async def test_a_message_over_32_kb_is_413(
    ingest: httpx.AsyncClient, db: Services
) -> None:
    big = track("m1", properties={"blob": "x" * (32 * 1024)})
    response = await ingest.post("/v1/track", json=big)
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert "32 KB" in response.json()["message"]
    assert await count(db, models.TrackedEvent) == 0


async def test_a_batch_over_500_kb_is_413_and_nothing_is_stored(
    ingest: httpx.AsyncClient, db: Services
) -> None:
    batch = [track(f"m{i}", properties={"blob": "x" * 20_000}) for i in range(30)]
    response = await ingest.post("/v1/batch", json={"batch": batch})
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert "500 KB" in response.json()["message"]
    assert await count(db, models.TrackedEvent) == 0


async def test_a_batch_stores_its_valid_messages_and_lists_the_invalid_ones(
    ingest: httpx.AsyncClient, db: Services
) -> None:
    batch = [
        track("ok-1"),
        {"type": "track", "messageId": "no-user", "event": "Viewed"},
        "not an object",
        track("too-big", properties={"blob": "x" * (33 * 1024)}),
        {"type": "teleport", "userId": "u"},
        {"type": "page", "anonymousId": "anon-1", "name": "Home"},
    ]
    response = await ingest.post("/v1/batch", json={"batch": batch})
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert [(e["index"], e["messageId"]) for e in body["errors"]] == [
        (1, "no-user"),
        (2, None),
        (3, "too-big"),
        (4, None),
    ]
    assert "userId or anonymousId" in body["errors"][0]["message"]
    assert "32 KB" in body["errors"][2]["message"]
    stored = await events(db)
    assert [(e.type, e.message_id[:4]) for e in stored] == [
        ("track", "ok-1"),
        ("page", "api-"),
    ]
    assert stored[1].anonymous_id == "anon-1"


async def test_a_repeated_message_id_is_acknowledged_and_stored_once(
    ingest: httpx.AsyncClient, db: Services
) -> None:
    first = await ingest.post("/v1/batch", json={"batch": [track("m1"), track("m1")]})
    again = await ingest.post("/v1/track", json=track("m1", event="Other"))
    assert first.json() == again.json() == {"success": True}
    stored = await events(db)
    assert [(e.message_id, e.name) for e in stored] == [("m1", "Viewed")]


async def test_a_gzipped_batch_is_accepted(
    ingest: httpx.AsyncClient, db: Services
) -> None:
    content = gzip.compress(orjson.dumps({"batch": [track("m1")]}))
    response = await ingest.post(
        "/v1/batch", content=content, headers={"Content-Encoding": "gzip"}
    )
    assert response.json() == {"success": True}
    assert await count(db, models.TrackedEvent) == 1


# Identify


async def test_a_trusted_identify_creates_then_updates_the_customer_and_preferences(
    trusted_ingest: httpx.AsyncClient, db: Services, changes: list[CustomerChange]
) -> None:
    traits = {
        "email": "Ana@Example.COM",
        "first_name": "Ana",
        "lastName": "Silva",
        "birthday": "1990-04-02T00:00:00Z",
        "phone": "030 1234567",
        "address": {"country": "de", "city": "Berlin", "postalCode": "10115"},
        "plan": "pro",
        "logins": 3,
        "tags": ["a", "b"],
        "id": "u-1",
    }
    first = await trusted_ingest.post(
        "/v1/identify", json={"userId": "u-1", "traits": traits}
    )
    assert first.json() == {"success": True}
    customer = await customer_by_email(db, "ana@example.com")
    assert customer is not None
    assert (customer.first_name, customer.last_name) == ("Ana", "Silva")
    assert customer.phone == "+49301234567"
    assert customer.birth_date is not None
    assert customer.birth_date.isoformat() == "1990-04-02"
    assert await preferences(db, customer.id) == {
        "plan": "pro",
        "logins": "3",
        "tags": '["a","b"]',
    }
    async with db.sessions() as session:
        address = await session.scalar(select(models.Address))
        identity = await session.scalar(select(models.Identity))
    assert address is not None
    assert (address.country, address.city, address.postcode) == (
        "DE",
        "Berlin",
        "10115",
    )
    assert (address.kind, address.is_default) == ("shipping", True)
    assert identity is not None
    assert (identity.source, identity.external_id) == ("segment", "u-1")
    assert identity.customer_id == customer.id

    update = {
        "email": "ana.silva@example.com",
        "plan": "team",
        "name": "Ana Maria Silva",
    }
    await trusted_ingest.post("/v1/identify", json={"userId": "u-1", "traits": update})
    assert await count(db, models.Customer) == 1
    updated = await customer_by_email(db, "ana.silva@example.com")
    assert updated is not None
    assert updated.id == customer.id
    assert (updated.first_name, updated.last_name) == ("Ana", "Maria Silva")
    assert (await preferences(db, customer.id))["plan"] == "team"
    assert [(c.customer_id, c.source, c.kind) for c in changes] == [
        (customer.id, "ingest", "identify")
    ] * 2


async def test_a_trusted_identify_links_the_user_to_an_existing_customer_by_email(
    trusted_ingest: httpx.AsyncClient, db: Services
) -> None:
    async with db.sessions() as session, session.begin():
        session.add(models.Customer(email="known@example.com", first_name="Old"))
    await trusted_ingest.post(
        "/v1/identify",
        json={"userId": "u-9", "traits": {"email": "KNOWN@example.com"}},
    )
    await trusted_ingest.post("/v1/track", json=track("t1", user_id="u-9"))
    customer = await customer_by_email(db, "known@example.com")
    assert customer is not None
    assert customer.first_name == "Old"
    assert await count(db, models.Customer) == 1
    assert {e.customer_id for e in await events(db)} == {customer.id}


async def test_an_invalid_phone_trait_is_reported_and_the_rest_is_stored(
    ingest: httpx.AsyncClient, db: Services
) -> None:
    response = await ingest.post(
        "/v1/identify",
        json={
            "messageId": "id-1",
            "userId": "u-1",
            "traits": {"email": "p@example.com", "phone": "12345", "plan": "pro"},
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["warnings"] == [
        {
            "index": 0,
            "messageId": "id-1",
            "field": "traits.phone",
            "message": "Invalid phone number.",
        }
    ]
    customer = await customer_by_email(db, "p@example.com")
    assert customer is not None
    assert customer.phone is None
    assert await preferences(db, customer.id) == {"plan": "pro"}


async def test_identify_of_an_unknown_user_without_email_stores_only_the_event(
    ingest: httpx.AsyncClient, db: Services
) -> None:
    response = await ingest.post(
        "/v1/identify", json={"userId": "u-1", "traits": {"plan": "pro"}}
    )
    assert response.json() == {"success": True}  # unknown or not: not told
    assert await count(db, models.Customer) == 0
    assert [e.type for e in await events(db)] == ["identify"]


async def test_an_email_of_another_customer_is_not_taken_over(
    ingest: httpx.AsyncClient, db: Services
) -> None:
    batch = [
        {"type": "identify", "userId": "a", "traits": {"email": "a@example.com"}},
        {"type": "identify", "userId": "b", "traits": {"email": "b@example.com"}},
        {"type": "identify", "userId": "a", "traits": {"email": "b@example.com"}},
    ]
    response = await ingest.post("/v1/batch", json={"batch": batch})
    assert response.json() == {"success": True}  # b's email exists: not told
    assert await customer_by_email(db, "a@example.com") is not None
    assert await count(db, models.Customer) == 2


# Events and customers


async def test_events_are_linked_to_the_customer_of_their_user_id(
    trusted_ingest: httpx.AsyncClient, db: Services, changes: list[CustomerChange]
) -> None:
    batch = [
        track("t0", user_id="stranger"),
        {"type": "identify", "userId": "u-1", "traits": {"email": "u1@example.com"}},
        track("t1"),
        track("t2"),
        {"type": "screen", "userId": "u-1", "name": "Home"},
        {"type": "group", "userId": "u-1", "groupId": "acme", "traits": {"n": 1}},
        {"type": "alias", "userId": "u-1-new", "previousId": "u-1"},
        track("t3", user_id="u-1-new"),
    ]
    response = await trusted_ingest.post("/v1/batch", json={"batch": batch})
    assert response.json() == {"success": True}
    customer = await customer_by_email(db, "u1@example.com")
    assert customer is not None
    stored = await events(db)
    assert [(e.type, e.customer_id) for e in stored] == [
        ("track", None),
        ("identify", customer.id),
        ("track", customer.id),
        ("track", customer.id),
        ("screen", customer.id),
        ("group", customer.id),
        ("alias", customer.id),
        ("track", customer.id),
    ]
    assert stored[5].name == "acme"
    assert stored[6].properties == {"previousId": "u-1"}
    assert [(c.customer_id, c.source, c.kind) for c in changes] == [
        (customer.id, "ingest", "identify")
    ]
    await trusted_ingest.post("/v1/page", json={"userId": "u-1-new", "name": "Pricing"})
    assert [(c.customer_id, c.kind) for c in changes[1:]] == [(customer.id, "page")]


async def test_timestamps_follow_segment_with_clock_skew_corrected_by_sent_at(
    ingest: httpx.AsyncClient, db: Services
) -> None:
    explicit = "2024-01-02T03:04:05.678Z"
    device_now = datetime.now(UTC) + timedelta(hours=2)
    happened = device_now - timedelta(minutes=5)
    batch = [
        track("explicit", timestamp=explicit),
        track("skewed", originalTimestamp=happened.isoformat()),
        track("unstamped"),
    ]
    before = datetime.now(UTC)
    await ingest.post(
        "/v1/batch", json={"batch": batch, "sentAt": device_now.isoformat()}
    )
    after = datetime.now(UTC)
    stored = {e.message_id: e for e in await events(db)}
    assert stored["explicit"].occurred_at == datetime(
        2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC
    )
    corrected = stored["skewed"].occurred_at
    assert before - timedelta(minutes=5) <= corrected <= after - timedelta(minutes=5)
    received = stored["unstamped"].received_at
    assert stored["unstamped"].occurred_at == received
    assert before <= received <= after


async def test_a_database_failure_stores_nothing_of_the_request(
    ingest: httpx.AsyncClient, db: Services, changes: list[CustomerChange]
) -> None:
    def fail_on_events(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO TRACKED_EVENTS"):
            raise OperationalError(statement, {}, Exception("disk full"))

    batch = [
        {"type": "identify", "userId": "u-1", "traits": {"email": "x@example.com"}},
        track("t1"),
    ]
    event.listen(db.engine.sync_engine, "before_cursor_execute", fail_on_events)
    try:
        response = await ingest.post("/v1/batch", json={"batch": batch})
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", fail_on_events)
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert "disk full" not in response.text
    for model in (models.Customer, models.Identity, models.TrackedEvent):
        assert await count(db, model) == 0
    assert changes == []


async def test_a_batch_costs_a_constant_number_of_inserts(
    ingest: httpx.AsyncClient, db: Services, sql: StatementCounter
) -> None:
    def batch(size: int, start: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        for i in range(start, start + size):
            if i % 10 == 0:
                traits = {"email": f"c{i}@example.com", "plan": "pro"}
                traits["address"] = {"country": "US", "city": "Austin"}
                messages.append(
                    {"type": "identify", "userId": f"u{i}", "traits": traits}
                )
            else:
                messages.append(track(f"m{i}", user_id=f"u{i - i % 10}"))
        return messages

    def inserts() -> int:
        return sum(s.lstrip().upper().startswith("INSERT") for s in sql.statements)

    sql.reset()
    response = await ingest.post("/v1/batch", json={"batch": batch(10, 0)})
    assert response.json() == {"success": True}
    small = (inserts(), sql.count)
    sql.reset()
    response = await ingest.post("/v1/batch", json={"batch": batch(100, 1000)})
    assert response.json() == {"success": True}
    assert (inserts(), sql.count) == small
    assert small[0] == 5  # customers, addresses, preferences, identities, events
    assert await count(db, models.TrackedEvent) == 110
    assert await count(db, models.Customer) == 11


async def test_a_body_too_deep_to_read_again_is_refused_not_failed(
    ingest: httpx.AsyncClient, db: Services
) -> None:
    """orjson reads 1,024 levels; the stdlib's parser, which reads a body
    again for its names, fewer."""
    deep = b'{"a": ' * 1000 + b'"\\u0077"' + b"}" * 1000
    body = raw_track(("writeKey", WRITE_KEY)).replace(
        b'"messageId"', b'"properties": ' + deep + b', "messageId"'
    )
    refused = await ingest.post(
        "/v1/track", content=body, headers={"Content-Type": "application/json"}
    )
    assert refused.status_code == 400
    assert refused.json() == {
        "success": False,
        "code": "invalid_json",
        "message": "the body is nested too deeply",
    }
    assert await events(db) == []
