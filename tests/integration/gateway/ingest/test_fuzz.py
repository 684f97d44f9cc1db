"""Property-based fuzzing of the ingest: generated bodies — Segment-shaped
messages with hostile values, batches, arbitrary JSON and non-JSON bytes —
posted through the ASGI app with either write key.

For every body: no 5xx (the ASGI transport re-raises an unhandled exception,
which fails the example), no traceback or SQL in the answer, no traceback or
email of the body in the log, and a refused body stores nothing. The number
of examples per backend is ``CG_FUZZ_EXAMPLES`` (200 by default)."""

from __future__ import annotations

import gzip
import logging
import os
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gateway.db import models
from gateway.runtime.services import Services
from tests.integration.gateway.ingest.rows import SERVER_WRITE_KEY, WRITE_KEY, count

EXAMPLES = int(os.environ.get("CG_FUZZ_EXAMPLES", "200"))
TABLES = (
    models.TrackedEvent,
    models.Customer,
    models.Identity,
    models.Preference,
    models.Address,
)
LEAKS = re.compile(
    r"Traceback|File \"|sqlalchemy|asyncpg|aiosqlite|psycopg|"
    r"\b(SELECT|INSERT INTO|UPDATE \w+ SET)\b|/work/|\.py\b"
)
ROUTES = ["batch", "identify", "track", "page", "screen", "group", "alias"]
HOSTILE_FIELDS = {"userId", "type", "traits", "timestamp", "context", "messageId"}

integers = st.integers(min_value=-(2**63), max_value=2**64 - 1)
"""What orjson can write; larger numbers are sent as raw bytes (``huge``)."""
text = st.text(max_size=40) | st.sampled_from(["", "\x00", "a\x00b", "é" * 70])
scalars = (
    st.none()
    | st.booleans()
    | integers
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4)
    ),
    max_leaves=20,
)
offsets = st.integers(min_value=-23 * 60, max_value=23 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
times = (
    st.datetimes(
        min_value=datetime(1, 1, 1),
        max_value=datetime(9999, 12, 31),
        timezones=st.none() | st.just(UTC) | offsets,
    ).map(datetime.isoformat)
    | st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
    | json_values
)
ids = (
    st.sampled_from(["u-1", "u-2", "victim-uid", "anon-1"])
    | text
    | integers
    | json_values
)
emails = (
    st.sampled_from(["a@example.com", "victim@example.com", "B@Example.com"])
    | st.emails().map(str)
    | st.builds(lambda n: "x" * n + "@example.com", st.integers(60, 70))
    | json_values
)
traits = st.fixed_dictionaries(
    {},
    optional={
        "email": emails,
        "phone": st.sampled_from(["+49 30 1234567", "030 1234567", "12345"])
        | json_values,
        "name": text | json_values,
        "firstName": text,
        "birthday": times,
        "address": st.fixed_dictionaries(
            {},
            optional={
                "country": st.sampled_from(["DE", "us", "XX"]) | json_values,
                "city": text | json_values,
                "street": text,
                "postalCode": text,
            },
        )
        | json_values,
        "plan": json_values,
    },
)
external_ids = (
    st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "type": st.sampled_from(["user_id", "anonymous_id", "email", "other"])
                | json_values,
                "id": ids | emails,
            },
        )
        | json_values,
        max_size=3,
    )
    | json_values
)
"""Segment's ``context.externalIds`` and RudderStack's ``context.externalId``."""
messages = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(ROUTES[1:]) | json_values,
        "messageId": ids,
        "userId": ids,
        "anonymousId": ids,
        "previousId": ids,
        "groupId": ids,
        "event": text | json_values,
        "name": text | json_values,
        "traits": traits | json_values,
        "properties": st.dictionaries(text, json_values, max_size=4) | json_values,
        "context": st.fixed_dictionaries(
            {},
            optional={
                "traits": traits,
                "externalIds": external_ids,
                "externalId": external_ids,
            },
        )
        | json_values,
        "timestamp": times,
        "originalTimestamp": times,
        "sentAt": times,
        "receivedAt": times,
    },
)
near_now = st.datetimes(
    min_value=datetime(1960, 1, 1), max_value=datetime(2110, 1, 1), timezones=offsets
).map(datetime.isoformat)
plausible_traits = st.fixed_dictionaries(
    {"email": st.sampled_from(["a@example.com", "victim@example.com", "n@x.org"])},
    optional={
        "phone": st.sampled_from(["+49 30 1234567", "+49 30 1234568", "12345"]),
        "name": st.sampled_from(["Ana Silva", "Mallory", " ", "x" * 150]),
        "birthday": near_now,
        "address": st.fixed_dictionaries(
            {"country": st.sampled_from(["DE", "fr", "XX"])},
            optional={"city": text, "street": text, "postalCode": text},
        ),
        "plan": json_values,
    },
)
plausible = st.builds(
    lambda base, overlay: {**base, **overlay},
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(ROUTES[1:]),
            "userId": st.sampled_from(["u-1", "u-2", "victim-uid", "new-uid"]),
            "event": st.sampled_from(["Viewed", "Order Completed"]),
            "groupId": st.just("acme"),
            "previousId": st.sampled_from(["u-1", "victim-uid", "anon-1"]),
            "traits": plausible_traits,
        },
        optional={
            "messageId": st.sampled_from(["m-1", "m-2", "m-3"]) | text,
            "properties": st.dictionaries(text, json_values, max_size=3),
            "timestamp": near_now,
            "originalTimestamp": near_now,
            "sentAt": near_now,
        },
    ),
    st.dictionaries(st.sampled_from(sorted(HOSTILE_FIELDS)), json_values, max_size=1),
)
batches = st.fixed_dictionaries(
    {"batch": st.lists(plausible | plausible | messages | json_values, max_size=8)},
    optional={"sentAt": near_now | times, "context": json_values},
)
huge = st.builds(
    lambda field, digits: (
        b'{"userId": "u", "event": "e", "%s": %s}' % (field.encode(), b"9" * digits)
    ),
    st.sampled_from(["timestamp", "sentAt", "userId", "messageId", "properties"]),
    st.integers(min_value=19, max_value=5000),
)
bodies = st.one_of(
    st.tuples(st.sampled_from(ROUTES[1:]), plausible.map(orjson.dumps)),
    st.tuples(st.just("batch"), batches.map(orjson.dumps)),
    st.tuples(st.sampled_from(ROUTES[1:]), messages.map(orjson.dumps)),
    st.tuples(st.just("batch"), batches.map(orjson.dumps)),
    st.tuples(st.sampled_from(ROUTES), json_values.map(orjson.dumps)),
    st.tuples(st.sampled_from(ROUTES), st.binary(max_size=64)),
    st.tuples(st.sampled_from(ROUTES), huge),
)


def emails_in(content: bytes) -> set[str]:
    """The email-like strings of a body, to look for in the log."""
    found = re.findall(rb"[^\s\"\\@]{1,64}@[^\s\"\\@]{1,64}", content)
    return {f.decode("utf-8", "replace") for f in found}


async def stored(db: Services) -> list[int]:
    return [await count(db, table) for table in TABLES]


@pytest.fixture
def log_records(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(body=bodies, server_key=st.booleans(), gzipped=st.booleans())
async def test_no_generated_body_gets_a_5xx_a_leak_or_a_partial_write(
    ingest: httpx.AsyncClient,
    db: Services,
    log_records: pytest.LogCaptureFixture,
    body: tuple[str, bytes],
    server_key: bool,
    gzipped: bool,
) -> None:
    route, content = body
    headers = {"Content-Type": "application/json"}
    if gzipped:
        content, headers["Content-Encoding"] = gzip.compress(content), "gzip"
    before = await stored(db)
    log_records.clear()
    response = await ingest.post(
        f"/v1/{route}",
        content=content,
        headers=headers,
        auth=(SERVER_WRITE_KEY if server_key else WRITE_KEY, ""),
    )
    event(f"{route if route == 'batch' else 'single'} {response.status_code}")
    assert response.status_code < 500, response.text
    assert not LEAKS.search(response.text), response.text
    answer: dict[str, Any] = response.json()
    logged = "\n".join(r.getMessage() for r in log_records.records)
    assert not any(r.exc_info for r in log_records.records)
    plain = gzip.decompress(content) if gzipped else content
    assert not [e for e in emails_in(plain) if e in logged], logged
    after = await stored(db)
    if response.status_code != 200:
        assert answer["success"] is False
        assert after == before
        return
    assert answer["success"] is True
    sent = len(orjson.loads(plain)["batch"]) if route == "batch" else 1
    refused = len(answer.get("errors", []))
    assert after[0] - before[0] <= sent - refused
    event(f"stored {min(after[0] - before[0], 2)}+ events")
