"""Bad credentials × surfaces: each is refused — 401 over HTTP, a close code in
the 44xx range over WebSocket — never a 500, never data."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from connectors.posthog.destination import SECRET_HEADER as POSTHOG_SECRET_HEADER
from connectors.zendesk.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER
from gateway.db import models
from gateway.demo.simulation import SHOPIFY_SECRET, ZENDESK_WEBHOOK_SECRET
from tests.security.conftest import Stage
from tests.security.credentials import BAD_CREDENTIALS, BadCredential
from tests.security.leaks import assert_no_leak
from tests.security.surfaces import WS_REFUSAL_CODES, Surface, send

pytestmark = pytest.mark.storage_independent

FOREIGN_EMBED_STATUS = {401, 403}
"""A valid embed token asking for another customer: 403 FORBIDDEN is the
documented answer of ``/embed/graphql``; 401 is accepted too."""

DOCUMENTS = {
    False: "query($id: ID!) { customer(id: $id) { email phone notes { edges { node { body } } } } }",
    True: "query($id: ID!) { timeline(customerId: $id, first: 5) { edges { node { __typename summary } } } }",
}


def _id(bad: BadCredential) -> str:
    return bad.name


@pytest.mark.parametrize("bad", BAD_CREDENTIALS, ids=_id)
@pytest.mark.parametrize("surface", list(Surface))
async def test_a_bad_credential_is_refused_on_every_graphql_surface(
    stage: Stage, surface: Surface, bad: BadCredential
) -> None:
    credential = (bad.embed if surface.is_embed else bad.bearer)(stage)
    answer = await send(
        stage,
        surface,
        credential,
        DOCUMENTS[surface.is_embed],
        {"id": stage.subject.gid},
    )
    assert_no_leak(stage, answer.text)
    assert not answer.data, answer.text[:500]
    foreign = bad.name == "embed_token_of_another_customer" and surface.is_embed
    if surface.is_socket:
        if answer.status is not None:  # refused at the handshake
            assert 400 <= answer.status < 500, answer.text[:500]
        elif foreign:
            assert answer.close_code in WS_REFUSAL_CODES or "FORBIDDEN" in answer.codes
        else:
            assert answer.close_code in WS_REFUSAL_CODES, (
                answer.close_code,
                answer.text[:500],
            )
    elif foreign:
        assert answer.status in FOREIGN_EMBED_STATUS, answer.text[:500]
    else:
        assert answer.status == 401, answer.text[:500]


@pytest.mark.parametrize("bad", BAD_CREDENTIALS, ids=_id)
async def test_a_bad_credential_is_refused_by_the_segment_export(
    stage: Stage, bad: BadCredential
) -> None:
    from tests.security.conftest import SEGMENT

    credential = bad.bearer(stage)
    headers = {} if credential is None else {"Authorization": credential}
    response = await stage.http.get(
        f"/segments/{SEGMENT}/export", params={"format": "jsonl"}, headers=headers
    )
    assert response.status_code == 401, response.text[:500]
    assert_no_leak(stage, response.text)


POSTHOG_EVENT = {
    "uuid": "0190c1c4-0000-7000-8000-0000000000aa",
    "event": "$pageview",
    "distinct_id": "intruder@example.com",
    "properties": {"$current_url": "https://shop.example/"},
    "timestamp": "2025-03-20T13:14:09.402Z",
}
"""A well-formed delivery: only the missing or bad secret refuses it."""


async def _stored(stage: Stage) -> int:
    async with stage.services.sessions() as session:
        total = 0
        for model in (
            models.TrackedEvent,
            models.Customer,
            models.WebhookDelivery,
            models.Identity,
            models.PostHogEvent,
        ):
            total += int(
                await session.scalar(select(func.count()).select_from(model)) or 0
            )
        return total


@pytest.mark.parametrize("bad", BAD_CREDENTIALS, ids=_id)
async def test_a_bad_write_key_is_refused_by_the_ingest_and_stores_nothing(
    stage: Stage, bad: BadCredential
) -> None:
    credential = bad.basic(stage)
    headers = {} if credential is None else {"Authorization": credential}
    before = await _stored(stage)
    body = {
        "userId": "sec-intruder",
        "traits": {"email": stage.subject.email, "phone": "+15550000000"},
    }
    response = await stage.http.post("/v1/identify", json=body, headers=headers)
    assert response.status_code == 401, response.text[:500]
    assert await _stored(stage) == before


@pytest.mark.parametrize("bad", BAD_CREDENTIALS, ids=_id)
@pytest.mark.parametrize("source", ["shopify", "zendesk", "posthog"])
async def test_a_bad_webhook_signature_is_refused_and_stores_nothing(
    stage: Stage, bad: BadCredential, source: str
) -> None:
    body = b'{"id": 1, "email": "intruder@example.com"}'
    if source == "posthog":
        body = json.dumps({"event": POSTHOG_EVENT, "person": None}).encode()
    signature = bad.signature(stage)
    headers: dict[str, str | bytes] = {"Content-Type": "application/json"}
    if source == "shopify":
        headers |= {
            "X-Shopify-Topic": "customers/update",
            "X-Shopify-Webhook-Id": "sec-1",
        }
        if signature is not None:
            headers["X-Shopify-Hmac-Sha256"] = signature
    elif source == "zendesk":
        headers[TIMESTAMP_HEADER] = datetime.now(UTC).isoformat()
        if signature is not None:
            headers[SIGNATURE_HEADER] = signature
    elif signature is not None:  # PostHog's destination sends a shared secret
        headers[POSTHOG_SECRET_HEADER] = signature
    before = await _stored(stage)
    response = await stage.http.post(
        f"/webhooks/{source}", content=body, headers=headers
    )
    assert response.status_code == 401, response.text[:500]
    assert await _stored(stage) == before


async def test_the_posthog_control_delivery_with_the_secret_is_stored(
    stage: Stage,
) -> None:
    """The control of the PostHog rows: the same body with the secret is in."""
    from gateway.demo.simulation import POSTHOG_WEBHOOK_SECRET

    body = {"event": {**POSTHOG_EVENT, "uuid": str(uuid.uuid4())}, "person": None}
    response = await stage.http.post(
        "/webhooks/posthog",
        json=body,
        headers={POSTHOG_SECRET_HEADER: POSTHOG_WEBHOOK_SECRET},
    )
    assert response.json() == {"status": "processed"}, response.text


def shopify_signature(body: bytes) -> str:
    digest = hmac.new(SHOPIFY_SECRET.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def zendesk_signature(timestamp: str, body: bytes) -> str:
    key = ZENDESK_WEBHOOK_SECRET.encode()
    return base64.b64encode(
        hmac.new(key, timestamp.encode() + body, hashlib.sha256).digest()
    ).decode()


async def test_a_valid_rs256_jwt_from_the_jwks_authenticates(stage: Stage) -> None:
    """The control of the forged-JWT rows: the issuer and JWKS do work."""
    answer = await send(
        stage, Surface.HTTP_POST, f"Bearer {stage.issuer.rs256()}", "{ __typename }"
    )
    assert answer.status == 200, answer.text


async def test_a_jwt_with_the_embed_role_is_refused(stage: Stage) -> None:
    from tests.security.credentials import hs256

    for token in (hs256(roles=["embed"]), stage.issuer.rs256(roles=["embed"])):
        answer = await send(
            stage, Surface.HTTP_POST, f"Bearer {token}", "{ customers { totalCount } }"
        )
        assert answer.status == 401, answer.text[:500]
