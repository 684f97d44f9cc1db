"""Zendesk webhook deliveries: signature check and event-subscription parsing.

Zendesk signs ``base64(HMAC-SHA256(secret, TIMESTAMP + BODY))`` and sends it in
``X-Zendesk-Webhook-Signature`` with the timestamp in
``X-Zendesk-Webhook-Signature-Timestamp``. An older revision of the docs (and its
worked example) concatenates BODY + TIMESTAMP, hence the ``order`` switch. The
timestamp is signed but Zendesk does not check it for us: rejecting old ones is
what stops a captured delivery from being replayed.

Event-subscription envelope (ids are *strings*, enums UPPERCASE)::

    {"type": "zen:event-type:ticket.status_changed", "account_id": 1234,
     "id": "7d9c…", "time": "2025-01-08T10:12:07.672717030Z",
     "zendesk_event_version": "2022-11-06", "subject": "zen:ticket:10042",
     "detail": {"id": "10042", "requester_id": "30011220000001",
                "status": "SOLVED", "priority": "LOW", "type": "TASK", …},
     "event": {"current": "SOLVED", "previous": "OPEN"}}
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal

from connectors.errors import UpstreamProtocolError
from connectors.models import UpstreamChange

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
EVENT_PREFIX = "zen:event-type:"

SignedOrder = Literal["timestamp+body", "body+timestamp"]


def sign(
    raw_body: bytes,
    timestamp: str,
    secret: str,
    *,
    order: SignedOrder = "timestamp+body",
) -> str:
    """The signature Zendesk sends; the secret is used as its literal string."""
    stamp = timestamp.encode()
    message = stamp + raw_body if order == "timestamp+body" else raw_body + stamp
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(
    raw_body: bytes,
    signature: str,
    timestamp: str,
    secret: str,
    *,
    now: datetime | None = None,
    max_age: float = 300,
    order: SignedOrder = "timestamp+body",
) -> bool:
    """True when the signature matches and the timestamp is within ``max_age``
    seconds of ``now`` (either side, to tolerate clock skew)."""
    try:
        signed_at = datetime.fromisoformat(timestamp)
    except ValueError:
        return False
    if signed_at.tzinfo is None:
        return False
    age = ((now or datetime.now(UTC)) - signed_at).total_seconds()
    if abs(age) > max_age:
        return False
    expected = sign(raw_body, timestamp, secret, order=order)
    return hmac.compare_digest(expected.encode(), signature.encode())


def parse_event(raw_body: bytes, *, delivery_id: str | None = None) -> UpstreamChange:
    """An event-subscription delivery as an ``UpstreamChange``.

    The customer is the ticket's requester for ``ticket.*`` events and the user
    itself for ``user.*`` events. ``delivery_id`` comes from the transport (a
    header), the envelope ``id`` identifies the event across re-deliveries.
    """
    try:
        envelope = json.loads(raw_body)
    except ValueError as exc:
        raise UpstreamProtocolError("zendesk", "webhook body is not JSON") from exc
    if not isinstance(envelope, dict) or not str(envelope.get("type", "")).startswith(
        EVENT_PREFIX
    ):
        raise UpstreamProtocolError("zendesk", "not an event-subscription envelope")
    topic = envelope["type"].removeprefix(EVENT_PREFIX)
    detail: Mapping[str, object] = envelope.get("detail") or {}
    event: Mapping[str, object] = envelope.get("event") or {}
    if topic.startswith("user."):
        customer = detail.get("id")
    else:
        customer = detail.get("requester_id")
    status = detail.get("status")
    return UpstreamChange(
        source="zendesk",
        topic=topic,
        customer_external_id=None if customer is None else str(customer),
        delivery_id=delivery_id,
        event_id=None if envelope.get("id") is None else str(envelope["id"]),
        payload={
            "subject": envelope.get("subject"),
            "ticket_id": str(detail["id"]) if topic.startswith("ticket.") else None,
            "status": status.lower() if isinstance(status, str) else None,
            "detail": detail,
            "event": event,
        },
    )
