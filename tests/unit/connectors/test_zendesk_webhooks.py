"""Zendesk webhook signatures and event-subscription parsing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from connectors.errors import UpstreamBadResponse
from connectors.zendesk.webhooks import parse_event, verify_signature

SECRET = "whsec-test"
STAMP = "2025-01-08T10:12:07Z"
NOW = datetime(2025, 1, 8, 10, 13, tzinfo=UTC)
BODY = b'{"type": "zen:event-type:ticket.created"}'


def expected_signature(message: bytes, secret: str = SECRET) -> str:
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def test_signature_over_timestamp_and_body_is_accepted():
    signature = expected_signature(STAMP.encode() + BODY)
    assert verify_signature(BODY, signature, STAMP, SECRET, now=NOW)


def test_signature_with_wrong_secret_or_body_is_rejected():
    signature = expected_signature(STAMP.encode() + BODY, "other")
    assert not verify_signature(BODY, signature, STAMP, SECRET, now=NOW)
    good = expected_signature(STAMP.encode() + BODY)
    assert not verify_signature(BODY + b" ", good, STAMP, SECRET, now=NOW)
    assert not verify_signature(BODY, "not base64!", STAMP, SECRET, now=NOW)


def test_stale_or_unparsable_timestamp_is_rejected_even_when_signed():
    signature = expected_signature(STAMP.encode() + BODY)
    later = NOW + timedelta(minutes=6)
    assert not verify_signature(BODY, signature, STAMP, SECRET, now=later)
    assert not verify_signature(BODY, signature, "yesterday", SECRET, now=NOW)


def test_documented_example_verifies_with_body_then_timestamp_order():
    body = b'{"say": "hello"}'
    stamp = "2021-07-25T10:00:00Z"
    secret = "HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA="
    signature = "tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw="
    at = datetime(2021, 7, 25, 10, 0, 30, tzinfo=UTC)
    assert verify_signature(
        body, signature, stamp, secret, now=at, order="body+timestamp"
    )
    assert not verify_signature(body, signature, stamp, secret, now=at)


def envelope(kind: str, detail: dict[str, object], **extra: object) -> bytes:
    return json.dumps(
        {
            "type": f"zen:event-type:{kind}",
            "account_id": 10455771,
            "id": "7d9c0b7e-2f6b-4b8e-9f5e-1f0c8a9d2e11",
            "time": "2025-01-08T10:12:07.672717030Z",
            "zendesk_event_version": "2022-11-06",
            "subject": f"zen:ticket:{detail.get('id')}",
            "detail": detail,
            **extra,
        }
    ).encode()


@pytest.mark.parametrize(
    ("kind", "event"),
    [
        ("ticket.created", {}),
        ("ticket.status_changed", {"current": "SOLVED", "previous": "OPEN"}),
        ("ticket.comment_added", {"comment": {"id": "4001", "is_public": False}}),
    ],
)
def test_ticket_events_name_the_requester_as_the_changed_customer(kind, event):
    detail = {"id": "10042", "requester_id": "30011220000001", "status": "SOLVED"}
    change = parse_event(envelope(kind, detail, event=event), delivery_id="d-1")
    assert change.source == "zendesk"
    assert change.topic == kind
    assert change.customer_external_id == "30011220000001"
    assert change.event_id == "7d9c0b7e-2f6b-4b8e-9f5e-1f0c8a9d2e11"
    assert change.delivery_id == "d-1"
    assert change.payload["ticket_id"] == "10042"
    assert change.payload["status"] == "solved"
    assert change.payload["event"] == event


def test_user_events_name_the_user_itself():
    change = parse_event(envelope("user.active_changed", {"id": "30011220000009"}))
    assert change.customer_external_id == "30011220000009"
    assert change.payload["ticket_id"] is None


def test_trigger_payloads_and_garbage_are_protocol_errors():
    with pytest.raises(UpstreamBadResponse):
        parse_event(b'{"ticket_id": "{{ticket.id}}"}')
    with pytest.raises(UpstreamBadResponse):
        parse_event(b"not json")
