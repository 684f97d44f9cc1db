"""Property-based fuzzing of what arrives from outside without an API key: the
Segment-compatible ingest (``/v1/*``, with the write key), signed Shopify and
Zendesk webhook deliveries (signatures computed here, so the bodies reach the
parsers) and PostHog destination deliveries (with the shared secret). Values come from ``hostile_json``: NUL and lone surrogates, numbers
past 64 bits or 1e308, nesting up to 100,000 deep, wrong types, missing keys;
ids are sometimes those of our customers, so bodies reach the database.
Whatever the JSON: no 5xx, a refusal is a short JSON error, nothing internal in
the answer, a refused body stores nothing, and no personal data or SQL in any
log record."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from gateway.db.models import Identity
from tests.conftest import row_counts
from tests.security.conftest import WRITE_KEY, Stage
from tests.security.delivery_bodies import (
    INGEST,
    posthog_bodies,
    shopify_deliveries,
    zendesk_bodies,
)
from tests.security.fuzzing import (
    Tally,
    answer_problems,
    describe,
    log_problems,
    run_examples,
)
from tests.security.hostile_json import encode
from tests.security.test_credentials import shopify_signature, zendesk_signature
from tests.security.test_fuzz_graphql import contacts, everything

__all__ = ["contacts"]


async def _rows(stage: Stage) -> int:
    return sum((await row_counts(stage.services)).values())


@pytest.fixture(scope="module")
def shopify_customers(stage: Stage) -> list[dict[str, Any]]:
    """The store's customers as Shopify describes them (their emails are our
    customers'): an order embedding one links it and reaches the order facts."""
    shopify = stage.simulators.shopify
    numbers = sorted(shopify.store.customers)[:20]
    return [shopify.rest.customer(shopify.store.customers[n]) for n in numbers]


@pytest.fixture(scope="module")
async def zendesk_users(stage: Stage) -> list[str]:
    """Zendesk ids already linked to our customers."""
    async with stage.services.sessions() as session:
        ids = await session.scalars(
            select(Identity.external_id)
            .where(Identity.source == "zendesk")
            .order_by(Identity.id)
            .limit(20)
        )
        return list(ids)


def refusal_problems(status: int, text: str) -> list[str]:
    """A 4xx must be a short JSON object saying why."""
    if not 400 <= status < 500:
        return []
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if not isinstance(body, dict) or len(text) > 1000:
        return ["a refusal that is not a short JSON error"]
    return []


def outcome(status: int, text: str) -> str:
    """The status and what the answer says in a word: ``200 processed``,
    ``200 errors`` (a batch with refused messages), ``400 invalid_json``."""
    try:
        body = json.loads(text)
    except ValueError:
        return str(status)
    if not isinstance(body, dict):
        return str(status)
    word = (
        body.get("status")
        or body.get("code")
        or ("errors" if body.get("errors") else "")
    )
    return f"{status} {word}".strip()


class Sender:
    """Posts one generated body and tallies what went wrong with its answer."""

    def __init__(self, stage: Stage, contacts: dict, caplog: Any, name: str) -> None:
        self.stage = stage
        self.every = everything(contacts)
        self.caplog = caplog
        self.tally = Tally(name)
        caplog.set_level(logging.INFO)

    async def send(self, path: str, raw: bytes, headers: dict, **label: Any) -> None:
        self.caplog.clear()
        before = await _rows(self.stage)
        response = await self.stage.http.post(path, content=raw, headers=headers)
        status, text = response.status_code, response.text
        problems = answer_problems(status, text, graphql=False)
        problems += refusal_problems(status, text)
        if 400 <= status < 600 and await _rows(self.stage) != before:
            problems.append("a refused body stored rows")
        problems += log_problems(self.caplog.records, self.every)
        line = describe(path=path, **label, status=status, answer=text[:600])
        self.tally.check(problems, line, outcome(status, text))


async def test_fuzz_ingest_bodies_never_fail_and_refusals_store_nothing(
    stage: Stage, contacts: dict, caplog: pytest.LogCaptureFixture
) -> None:
    sender = Sender(stage, contacts, caplog, "fuzz ingest bodies")
    basic = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    headers = {"Content-Type": "application/json", "Authorization": f"Basic {basic}"}

    async def check(example: tuple[str, Any]) -> None:
        kind, body = example
        await sender.send(f"/v1/{kind}", encode(body), headers, body=body)

    await run_examples(INGEST, check)
    sender.tally.finish()


async def test_fuzz_signed_shopify_deliveries_never_fail_and_refusals_store_nothing(
    stage: Stage,
    contacts: dict,
    shopify_customers: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sender = Sender(stage, contacts, caplog, "fuzz shopify deliveries")
    deliveries = shopify_deliveries(shopify_customers)

    async def check(example: tuple[str, Any]) -> None:
        topic, body = example
        raw = encode(body)
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": shopify_signature(raw),
            "X-Shopify-Shop-Domain": "northwind-outfitters.myshopify.com",
            "X-Shopify-API-Version": "2025-07",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": str(uuid.uuid4()),
        }
        await sender.send("/webhooks/shopify", raw, headers, topic=topic, body=body)

    await run_examples(deliveries, check)
    sender.tally.finish()


async def test_fuzz_signed_zendesk_deliveries_never_fail_and_refusals_store_nothing(
    stage: Stage,
    contacts: dict,
    zendesk_users: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from connectors.zendesk.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER

    sender = Sender(stage, contacts, caplog, "fuzz zendesk deliveries")

    async def check(body: Any) -> None:
        raw = encode(body)
        timestamp = datetime.now(UTC).isoformat()
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: zendesk_signature(timestamp, raw),
        }
        await sender.send("/webhooks/zendesk", raw, headers, body=body)

    await run_examples(zendesk_bodies(zendesk_users), check)
    sender.tally.finish()


@pytest.fixture(scope="module")
async def posthog_ids(stage: Stage) -> list[str]:
    """PostHog distinct ids linked to our customers (the subject's, at least)."""
    async with stage.services.sessions() as session:
        ids = await session.scalars(
            select(Identity.external_id)
            .where(Identity.source == "posthog")
            .order_by(Identity.id)
            .limit(20)
        )
        return list(ids)


async def test_fuzz_posthog_deliveries_never_fail_and_refusals_store_nothing(
    stage: Stage,
    contacts: dict,
    posthog_ids: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from connectors.posthog.destination import SECRET_HEADER
    from gateway.demo.simulation import POSTHOG_WEBHOOK_SECRET

    sender = Sender(stage, contacts, caplog, "fuzz posthog deliveries")
    headers = {
        "Content-Type": "application/json",
        SECRET_HEADER: POSTHOG_WEBHOOK_SECRET,
    }

    async def check(body: Any) -> None:
        await sender.send("/webhooks/posthog", encode(body), headers, body=body)

    await run_examples(posthog_bodies(posthog_ids), check)
    sender.tally.finish()
