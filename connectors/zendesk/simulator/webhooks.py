"""Event-subscription deliveries as Zendesk sends them, for the simulator.

The envelope carries ids as strings and enums in UPPERCASE (unlike REST), the
``time`` has nanoseconds, and the signature covers TIMESTAMP + BODY.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.simulator_server import sender_tls
from connectors.zendesk.webhooks import (
    EVENT_PREFIX,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
)

ACCOUNT_ID = 10_455_771
DELIVERY_TIMEOUT = 10.0
"""Seconds Zendesk waits for a webhook's answer before it counts the delivery
failed (reported as 10 s, alboz.eu 2025-10; not in Zendesk's reference):
httpx's own default, 5 s, failed a test once when a loaded machine held the
gateway's answer longer."""
_ID_KEYS = (
    "id",
    "requester_id",
    "submitter_id",
    "assignee_id",
    "group_id",
    "brand_id",
    "organization_id",
)


async def send_event(
    url: str,
    event_type: str,
    detail: Mapping[str, object],
    secret: str,
    *,
    event: Mapping[str, object] | None = None,
    timestamp: str | None = None,
    event_id: str | None = None,
) -> httpx.Response:
    """POST one signed delivery of ``zen:event-type:{event_type}`` to ``url``;
    pass an earlier ``event_id`` to re-deliver the same event."""
    now = datetime.now(UTC)
    envelope = {
        "type": EVENT_PREFIX + event_type,
        "account_id": ACCOUNT_ID,
        "id": event_id or str(uuid.uuid4()),
        "time": now.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z",
        "zendesk_event_version": "2022-11-06",
        "subject": f"zen:{event_type.split('.')[0]}:{detail.get('id')}",
        "detail": dict(detail),
        "event": dict(event or {}),
    }
    body = httpx.Request("POST", url, json=envelope).content
    stamp = timestamp or now.strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Zendesk Webhook",
        "X-Zendesk-Webhook-Id": "01HZWEBHOOK000000000000000",
        SIGNATURE_HEADER: sign(body, stamp, secret),
        TIMESTAMP_HEADER: stamp,
    }
    async with httpx.AsyncClient(
        timeout=DELIVERY_TIMEOUT, verify=sender_tls()
    ) as client:
        return await client.post(url, content=body, headers=headers)


def ticket_event_detail(ticket: Mapping[str, Any]) -> dict[str, object]:
    """A REST ticket reshaped as an event ``detail``."""
    ids = {k: None if ticket[k] is None else str(ticket[k]) for k in _ID_KEYS}
    upper = {
        k: ticket[k].upper() if ticket[k] else None
        for k in ("status", "priority", "type")
    }
    return {
        **ids,
        **upper,
        "actor_id": str(ticket["requester_id"]),
        "created_at": ticket["created_at"],
        "updated_at": ticket["updated_at"],
        "description": ticket["description"],
        "subject": ticket["subject"],
        "external_id": ticket["external_id"],
        "form_id": str(ticket["ticket_form_id"]),
        "is_public": ticket["is_public"],
        "tags": ticket["tags"],
        "via": {"channel": ticket["via"]["channel"]},
    }
