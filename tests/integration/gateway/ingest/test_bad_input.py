"""Messages that are JSON but not what Segment sends: each is refused on its own
(a per-message error in a batch, whose good messages are stored; a 400 on a
single-message route), nothing of it is stored, and the log names only its
messageId and error code."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import httpx
import pytest

from gateway.db import models
from gateway.runtime.services import Services
from tests.integration.gateway.ingest.rows import count, events, track

PERSONAL = "secret.person@example.com"

BAD_TIMES: list[object] = [
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "1969-12-31T23:59:59Z",
    "2100-01-01T00:00:00Z",
    "yesterday",
    "",
    "9" * 5000,
    12345,
    1e300,
    True,
    [],
    {},
]


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"d": value}
    return value


BAD_MESSAGES: list[tuple[str, dict[str, Any], str]] = [
    ("a NUL in a property", track("x", properties={"note": "a\x00b"}), "NUL"),
    ("a NUL in a context key", track("x", context={"a\x00": 1}), "NUL"),
    (
        "a NUL in a trait",
        {
            "type": "identify",
            "userId": "u",
            "traits": {"email": PERSONAL, "firstName": "A\x00"},
        },
        "NUL",
    ),
    ("nesting 40 levels deep", track("x", properties=nested(40)), "nested"),
    ("properties as a list", track("x", properties=[1, 2]), "properties"),
    ("context as a string", track("x", context="ctx"), "context"),
    (
        "traits as a string",
        {"type": "identify", "userId": "u", "traits": "t"},
        "traits",
    ),
    ("a userId object", {**track("x"), "userId": {"id": 1}}, "userId"),
    ("a boolean userId", {**track("x"), "userId": True}, "userId"),
    ("an event number", track("x", event=7), "event"),
    ("a messageId list", {**track("x"), "messageId": ["m"]}, "messageId"),
    ("a numeric type", {**track("x"), "type": 3}, "type"),
    ("a list type (found by the fuzz test)", {**track("x"), "type": []}, "type"),
    ("a userId over 255 characters", track("x", user_id="u" * 256), "userId"),
    ("a userId past 64 bits (read as a float)", track("x", user_id=2**64), "userId"),
    ("a fractional userId", track("x", user_id=1.5), "userId"),
    ("a messageId of 1e308", {**track("x"), "messageId": 1e308}, "messageId"),
    ("a boolean anonymousId", {**track("x"), "anonymousId": False}, "anonymousId"),
    ("a group without groupId", {"type": "group", "userId": "u"}, "groupId"),
]


@pytest.mark.parametrize("field", ["timestamp", "originalTimestamp", "sentAt"])
@pytest.mark.parametrize("value", BAD_TIMES, ids=[repr(v)[:24] for v in BAD_TIMES])
async def test_a_bad_time_fails_its_message_only_and_the_batch_stores_the_rest(
    ingest: httpx.AsyncClient, db: Services, field: str, value: object
) -> None:
    bad = track("bad", **{field: value, "originalTimestamp": "2024-05-01T00:00:00Z"})
    if field == "originalTimestamp":
        bad[field] = value
    response = await ingest.post(
        "/v1/batch", json={"batch": [track("good-1"), bad, track("good-2")]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert [(e["index"], e["messageId"], e["code"]) for e in body["errors"]] == [
        (1, "bad", "invalid_timestamp")
    ]
    assert [e.message_id for e in await events(db)] == ["good-1", "good-2"]


@pytest.mark.parametrize(
    ("original", "sent_at"),
    [
        ("2099-12-31T00:00:00Z", "1970-01-01T00:00:00Z"),
        ("1970-01-01T00:00:00Z", "2099-12-31T00:00:00Z"),
    ],
)
async def test_a_skew_correction_that_leaves_the_range_fails_the_message(
    ingest: httpx.AsyncClient, db: Services, original: str, sent_at: str
) -> None:
    bad = track("bad", originalTimestamp=original, sentAt=sent_at)
    response = await ingest.post("/v1/batch", json={"batch": [bad, track("good")]})
    assert response.json()["errors"][0]["code"] == "invalid_timestamp"
    assert "corrected by sentAt" in response.json()["errors"][0]["message"]
    assert [e.message_id for e in await events(db)] == ["good"]


async def test_a_bad_time_on_a_single_message_route_is_a_400_and_nothing_is_stored(
    ingest: httpx.AsyncClient, db: Services
) -> None:
    response = await ingest.post(
        "/v1/track", json=track("m", timestamp="9999-12-31T23:59:59Z")
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_timestamp"
    assert await count(db, models.TrackedEvent) == 0


async def test_a_bad_batch_sent_at_refuses_the_request_and_stores_nothing(
    ingest: httpx.AsyncClient, db: Services
) -> None:
    body = {"batch": [track("m")], "sentAt": "0001-01-01T00:00:00+01:00"}
    response = await ingest.post("/v1/batch", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_timestamp"
    assert await count(db, models.TrackedEvent) == 0


@pytest.mark.parametrize(
    ("message", "reason"),
    [case[1:] for case in BAD_MESSAGES],
    ids=[case[0] for case in BAD_MESSAGES],
)
async def test_a_malformed_message_fails_alone_and_leaves_nothing_behind(
    ingest: httpx.AsyncClient, db: Services, message: dict[str, Any], reason: str
) -> None:
    batch = [track("good-1"), message, track("good-2")]
    response = await ingest.post("/v1/batch", json={"batch": batch})
    assert response.status_code == 200
    errors = response.json()["errors"]
    assert [e["index"] for e in errors] == [1]
    assert reason in errors[0]["message"]
    assert [e.message_id for e in await events(db)] == ["good-1", "good-2"]
    assert await count(db, models.Customer) == 0


async def test_a_batch_context_with_a_nul_fails_the_messages_it_applies_to(
    ingest: httpx.AsyncClient, db: Services
) -> None:
    body = {"batch": [track("m1"), track("m2")], "context": {"ip": "1\x00"}}
    response = await ingest.post("/v1/batch", json=body)
    assert [e["index"] for e in response.json()["errors"]] == [0, 1]
    assert await count(db, models.TrackedEvent) == 0


async def test_a_refused_message_is_logged_by_hashed_id_and_code_without_its_data(
    ingest: httpx.AsyncClient, db: Services, caplog: pytest.LogCaptureFixture
) -> None:
    bad = {
        "type": "identify",
        "messageId": "msg-7",
        "userId": "u",
        "timestamp": "9999-12-31T23:59:59Z",
        "traits": {"email": PERSONAL, "phone": "+49 30 1234567", "name": "Sam Doe"},
    }
    with caplog.at_level(logging.DEBUG):
        await ingest.post("/v1/batch", json={"batch": [bad]})
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert hashlib.sha256(b"msg-7").hexdigest()[:16] in logged
    assert "msg-7" not in logged
    assert "invalid_timestamp" in logged
    for personal in (PERSONAL, "1234567", "Sam", "9999"):
        assert personal not in logged


@pytest.mark.parametrize("key", ["public", "server"])
async def test_an_email_over_the_rfc_5321_limits_creates_no_customer(
    ingest: httpx.AsyncClient,
    trusted_ingest: httpx.AsyncClient,
    db: Services,
    key: str,
) -> None:
    client = ingest if key == "public" else trusted_ingest
    traits = {"email": f"{'a' * 65}@example.com", "plan": "pro"}
    response = await client.post(
        "/v1/identify", json={"userId": "u-1", "traits": traits}
    )
    # the server key is also told the unknown userId was not created; the
    # public key only what its message got wrong (test_existence_oracle)
    fields = ["traits.email"] * (1 if key == "public" else 2)
    assert [w["field"] for w in response.json()["warnings"]] == fields
    assert "64 bytes" in response.json()["warnings"][0]["message"]
    assert await count(db, models.Customer) == 0
    assert await count(db, models.TrackedEvent) == 1


HOSTILE_BODIES = {
    "a lone surrogate": b'{"type": "track", "userId": "u", "event": "\\ud800"}',
    # 16,000 levels fit the 32 KB message limit: the parser refuses them
    "nesting 16,000 deep": b'{"type": "track", "userId": "u", "event": "E",'
    b' "properties": {"d": ' + b"[" * 16_000 + b"]" * 16_000 + b"}}",
    "a number past a double": b'{"type": "track", "userId": "u", "event": "E",'
    b' "properties": {"n": 1e309}}',
    "NaN": b'{"type": "track", "userId": "u", "event": "E", "properties": {"n": NaN}}',
}


@pytest.mark.parametrize("route", ["track", "batch"])
@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
async def test_json_no_parser_should_follow_refuses_the_body_whole_and_stores_nothing(
    ingest: httpx.AsyncClient, db: Services, route: str, body: bytes
) -> None:
    if route == "batch":
        body = b'{"batch": [' + body + b"]}"
    response = await ingest.post(
        f"/v1/{route}", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"
    assert len(response.text) < 300
    assert await count(db, models.TrackedEvent) == 0


async def test_numbers_up_to_a_double_in_properties_are_stored_as_sent(
    ingest: httpx.AsyncClient, db: Services
) -> None:
    properties = {"big": 2**63, "past_64_bits": 2**64, "huge": 1e308}
    response = await ingest.post("/v1/track", json=track("m", properties=properties))
    assert response.status_code == 200, response.text
    (event,) = await events(db)
    assert event.properties == {"big": 2**63, "past_64_bits": 2.0**64, "huge": 1e308}
