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
from datetime import UTC, datetime
from typing import Literal

from connectors.errors import UpstreamBadResponse
from connectors.models import UpstreamChange
from connectors.payloads import Fields, read_object
from connectors.shapes import MAX_WHOLE, check_shape

SOURCE = "zendesk"
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
    The envelope needs a ``type``, an ``id`` and an object ``detail``; a
    ticket's or user's ``detail.id`` is required. Raises
    ``UpstreamBadResponse`` naming the first field that is missing or not
    of its type.
    """
    envelope = Fields(SOURCE, read_object(SOURCE, raw_body), "envelope")
    kind = envelope.data.get("type")
    if not isinstance(kind, str) or not kind.startswith(EVENT_PREFIX):
        raise UpstreamBadResponse(SOURCE, "not an event-subscription envelope")
    topic = kind.removeprefix(EVENT_PREFIX)
    event_id = envelope.text("id", required=True)
    if envelope.data.get("detail") is None:
        raise envelope.error("detail", "is missing")
    detail = envelope.object("detail")
    event = envelope.object("event")
    is_user, is_ticket = topic.startswith("user."), topic.startswith("ticket.")
    own_id = _zendesk_id(detail, "id", required=True) if is_user or is_ticket else None
    customer = own_id if is_user else _zendesk_id(detail, "requester_id")
    status = detail.text("status")
    change = UpstreamChange(
        source=SOURCE,
        topic=topic,
        customer_external_id=customer,
        delivery_id=delivery_id,
        event_id=event_id,
        payload={
            "subject": envelope.text("subject"),
            "ticket_id": own_id if is_ticket else None,
            "status": status.lower() if status else None,
            "detail": detail.data,
            "event": event.data,
        },
    )
    check_shape(SOURCE, change)
    return change


def _zendesk_id(fields: Fields, key: str, *, required: bool = False) -> str | None:
    """A Zendesk id: a string of digits (what events send) or an integer."""
    sent = fields.data.get(key)
    if sent is None and not required:
        return None
    value = sent
    if isinstance(sent, str) and sent.isascii() and sent.isdigit():
        value = int(sent) if len(sent) <= 19 else None
    if type(value) is int and 0 < value <= MAX_WHOLE:  # a bool is not an id
        return str(value)
    raise fields.error(key, "is missing" if sent is None else "is not a Zendesk id")
