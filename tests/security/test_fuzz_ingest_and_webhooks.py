"""Property-based fuzzing of what arrives from outside without an API key: the
Segment-compatible ingest (``/v1/*``, with the write key) and signed Shopify and
Zendesk webhook deliveries (signatures computed here, so the bodies reach the
parsers). Whatever the JSON: no 5xx, nothing internal in the answer, a refused
body stores nothing, and no personal data or SQL in any log record."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import strategies as st
from sqlalchemy import func, select

from gateway.db.auth_models import AuditEntry
from gateway.db.models import Base
from gateway.ingest.messages import TYPES
from gateway.webhooks.shopify import HANDLED
from tests.security.conftest import WRITE_KEY, Stage
from tests.security.fuzzing import (
    Tally,
    answer_problems,
    describe,
    log_problems,
    run_examples,
)
from tests.security.test_credentials import shopify_signature, zendesk_signature
from tests.security.test_fuzz_graphql import JSON, contacts, everything

__all__ = ["contacts"]

TEXT = st.text(max_size=40)
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
CONTACT = st.one_of(st.emails(), st.text(max_size=80), st.none(), JSON)
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
        "userId": st.one_of(TEXT, JSON),
        "anonymousId": st.one_of(TEXT, JSON),
        "messageId": st.one_of(st.uuids().map(str), JSON),
        "timestamp": TIMESTAMPS,
        "sentAt": TIMESTAMPS,
        "traits": st.one_of(TRAITS, JSON),
        "event": st.one_of(TEXT, JSON),
        "properties": JSON,
        "context": st.one_of(
            st.fixed_dictionaries({}, optional={"traits": TRAITS}), JSON
        ),
        "previousId": TEXT,
        "groupId": TEXT,
    },
)
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


async def _rows(stage: Stage) -> int:
    total = 0
    async with stage.services.sessions() as session:
        for table in Base.metadata.sorted_tables:
            if table.name != AuditEntry.__tablename__:
                total += int(
                    await session.scalar(select(func.count()).select_from(table)) or 0
                )
    return total


async def test_fuzz_ingest_bodies_never_fail_and_refusals_store_nothing(
    stage: Stage, contacts: dict, caplog: pytest.LogCaptureFixture
) -> None:
    tally = Tally("fuzz ingest bodies")
    every = everything(contacts)
    caplog.set_level(logging.INFO)

    async def check(example: tuple[str, Any]) -> None:
        kind, body = example
        caplog.clear()
        before = await _rows(stage)
        response = await stage.http.post(
            f"/v1/{kind}",
            content=json.dumps(body).encode(),
            auth=(WRITE_KEY, ""),
            headers={"Content-Type": "application/json"},
        )
        problems = answer_problems(response.status_code, response.text, graphql=False)
        if 400 <= response.status_code < 600 and await _rows(stage) != before:
            problems.append("a refused body stored rows")
        problems += log_problems(caplog.records, every)
        tally.check(
            problems,
            describe(
                path=f"/v1/{kind}",
                body=body,
                status=response.status_code,
                answer=response.text[:600],
            ),
        )

    await run_examples(INGEST, check)
    tally.finish()


SHOPIFY_BODY = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {},
        optional={
            "id": st.one_of(st.integers(), TEXT, JSON),
            "admin_graphql_api_id": TEXT,
            "email": CONTACT,
            "phone": CONTACT,
            "first_name": CONTACT,
            "customer": st.one_of(
                JSON,
                st.fixed_dictionaries(
                    {},
                    optional={
                        "id": st.one_of(st.integers(), JSON),
                        "email": CONTACT,
                        "phone": CONTACT,
                    },
                ),
            ),
            "created_at": TIMESTAMPS,
            "updated_at": TIMESTAMPS,
            "total_price": st.one_of(TEXT, JSON),
            "line_items": JSON,
            "order_id": st.one_of(st.integers(), JSON),
            "addresses": JSON,
            "default_address": JSON,
        },
    ),
)
SHOPIFY = st.tuples(st.sampled_from(sorted(HANDLED)), SHOPIFY_BODY)
ZENDESK = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {
            "type": st.one_of(
                st.sampled_from(
                    [
                        "zen:event-type:ticket.created",
                        "zen:event-type:ticket.comment_added",
                        "zen:event-type:user.created",
                    ]
                ),
                TEXT,
            )
        },
        optional={
            "id": TEXT,
            "time": TIMESTAMPS,
            "subject": TEXT,
            "detail": st.one_of(
                JSON,
                st.fixed_dictionaries(
                    {},
                    optional={
                        "id": st.one_of(TEXT, JSON),
                        "requester_id": st.one_of(TEXT, JSON),
                        "email": CONTACT,
                        "status": TEXT,
                    },
                ),
            ),
            "event": JSON,
        },
    ),
)


async def test_fuzz_signed_shopify_deliveries_never_fail_and_refusals_store_nothing(
    stage: Stage, contacts: dict, caplog: pytest.LogCaptureFixture
) -> None:
    tally = Tally("fuzz shopify deliveries")
    every = everything(contacts)
    caplog.set_level(logging.INFO)

    async def check(example: tuple[str, Any]) -> None:
        topic, body = example
        raw = json.dumps(body).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": shopify_signature(raw),
            "X-Shopify-Shop-Domain": "northwind-outfitters.myshopify.com",
            "X-Shopify-API-Version": "2025-07",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": str(uuid.uuid4()),
        }
        caplog.clear()
        before = await _rows(stage)
        response = await stage.http.post(
            "/webhooks/shopify", content=raw, headers=headers
        )
        problems = answer_problems(response.status_code, response.text, graphql=False)
        if 400 <= response.status_code < 600 and await _rows(stage) != before:
            problems.append("a refused body stored rows")
        problems += log_problems(caplog.records, every)
        tally.check(
            problems,
            describe(
                topic=topic,
                body=body,
                status=response.status_code,
                answer=response.text[:600],
            ),
        )

    await run_examples(SHOPIFY, check)
    tally.finish()


async def test_fuzz_signed_zendesk_deliveries_never_fail_and_refusals_store_nothing(
    stage: Stage, contacts: dict, caplog: pytest.LogCaptureFixture
) -> None:
    from connectors.zendesk.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER

    tally = Tally("fuzz zendesk deliveries")
    every = everything(contacts)
    caplog.set_level(logging.INFO)

    async def check(body: Any) -> None:
        raw = json.dumps(body).encode()
        timestamp = datetime.now(UTC).isoformat()
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: zendesk_signature(timestamp, raw),
        }
        caplog.clear()
        before = await _rows(stage)
        response = await stage.http.post(
            "/webhooks/zendesk", content=raw, headers=headers
        )
        problems = answer_problems(response.status_code, response.text, graphql=False)
        if 400 <= response.status_code < 600 and await _rows(stage) != before:
            problems.append("a refused body stored rows")
        problems += log_problems(caplog.records, every)
        tally.check(
            problems,
            describe(
                body=body, status=response.status_code, answer=response.text[:600]
            ),
        )

    await run_examples(ZENDESK, check)
    tally.finish()
