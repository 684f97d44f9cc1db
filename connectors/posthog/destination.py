"""Deliveries of PostHog's HTTP Webhook destination: the shared secret, then
the event they carry.

PostHog's real-time destinations run a Hog function per matching event. Its
"HTTP Webhook" template (``template-webhook``, PostHog/posthog
``plugin-server/src/cdp/templates/_destinations/webhook/webhook.template.ts``)
sends ``inputs.headers`` (default ``{"Content-Type": "application/json"}``)
and the JSON body ``{"event": "{event}", "person": "{person}"}``, each
placeholder expanded to the invocation's global of that name
(``HogFunctionInvocationGlobals`` in ``plugin-server/src/cdp/types.ts``;
posthog.com/docs/cdp/destinations/customizing-destinations)::

    {"event": {"uuid": "0190c1c4-…", "event": "$pageview",
               "distinct_id": "maya@example.com",
               "properties": {"$current_url": "https://…", "$pathname": "/p/1",
                              "$session_id": "0190c1c4-…", …},
               "elements_chain": "", "timestamp": "2025-03-20T13:14:09.402Z",
               "url": "https://eu.posthog.com/project/1/events/…"},
     "person": {"id": "0190c1c4-…", "name": "maya@example.com",
                "url": "https://…/person/…", "properties": {…}} | null}

Older releases of the globals named the event ``name`` and the person's id
``uuid``; both spellings are read. The template signs nothing: the
destination is configured with a header of ours, ``SECRET_HEADER``, holding a
shared secret. PostHog retries a delivery answered with a status of 400 or
more, or not answered within 10 s, up to 3 tries in all
(``fetch-executor.service.ts``, ``CDP_FETCH_RETRIES``), so an event arrives
at least once and its ``uuid`` is what makes a repeat harmless.
"""

from __future__ import annotations

import hmac
import uuid

from connectors.models import ActivityEvent
from connectors.payloads import Fields, read_object
from connectors.posthog.mapping import SOURCE, kept_properties, kind_of
from connectors.shapes import check_shape

SECRET_HEADER = "X-Customer-Graph-Secret"


def verify_secret(sent: str | None, secret: str) -> bool:
    """Whether the header holds the secret (compared in constant time; a
    header is Latin-1 text, so any byte compares rather than raising)."""
    if not sent or not secret:
        return False
    return hmac.compare_digest(sent.encode("latin-1"), secret.encode())


def parse_delivery(raw_body: bytes) -> ActivityEvent:
    """The event of one delivery of the template's default body. Raises
    ``UpstreamBadResponse`` naming the first field that is missing or not
    of its type: ``event.uuid`` must be a UUID, ``event.distinct_id`` and
    the event's name text, ``event.timestamp`` an ISO 8601 time. The
    properties are the sender's own, so a ``$current_url``, ``$pathname`` or
    ``$session_id`` that is not text is left out rather than refused."""
    body = Fields(SOURCE, read_object(SOURCE, raw_body), "body")
    if body.data.get("event") is None:
        raise body.error("event", "is missing")
    event = body.object("event")
    sent_uuid = event.text("uuid", required=True)
    try:
        event_id = str(uuid.UUID(sent_uuid))
    except ValueError:
        raise event.error("uuid", "is not a UUID") from None
    name = event.text("event") or event.text("name")
    if not name:
        raise event.error("event", "is missing")
    distinct_id = event.text("distinct_id", required=True)
    if not distinct_id.strip():
        raise event.error("distinct_id", "is empty")
    properties = event.object("properties").data
    parsed = ActivityEvent(
        id=event_id,
        distinct_id=distinct_id,
        kind=kind_of(name),
        name=name,
        occurred_at=event.time("timestamp", required=True),
        url=_text(properties.get("$current_url")),
        path=_text(properties.get("$pathname")),
        session_id=_text(properties.get("$session_id")),
        properties=kept_properties(properties),
    )
    check_shape(SOURCE, parsed)
    return parsed


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
