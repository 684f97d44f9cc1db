"""Zendesk REST JSON -> canonical models.

Zendesk ids are JSON integers beyond 2**32 (``30011220000001``); we keep them as
strings so no layer ever narrows them. REST timestamps are UTC ``Z`` without a
fraction (``2025-02-20T16:05:31Z``).

User (``/users/show_many``, ``/users/search``)::

    {"id": 30011220000001, "name": "Maya Lind", "email": "maya@example.com",
     "phone": "+14155550100", "created_at": "…Z", "role": "end-user",
     "active": true, "suspended": false, "tags": ["vip"], "locale": "en-US",
     "time_zone": "Eastern Time (US & Canada)", "iana_time_zone": "America/New_York",
     "external_id": null, "user_fields": {}, …}

Ticket (``/search``, ``/users/{id}/tickets/requested``)::

    {"id": 10042, "requester_id": 30011220000001, "subject": "Where is #1042?",
     "status": "open", "priority": "normal"|null, "type": "question"|null,
     "via": {"channel": "email", "source": {…}}, "tags": [...],
     "created_at": "…Z", "updated_at": "…Z",
     "satisfaction_rating": null | {"score": "unoffered"} | {"score": "offered"}
                          | {"id": 5…, "score": "good"|"bad", "comment": "…", …}}

Comment (``/tickets/{id}/comments``)::

    {"id": 4…, "type": "Comment", "author_id": 3…, "body": "…", "plain_body": "…",
     "public": false, "created_at": "…Z", "attachments": [], "via": {…}}

Satisfaction rating (``/satisfaction_ratings``)::

    {"id": 5…, "ticket_id": 10042, "requester_id": 3…, "score": "bad",
     "comment": "…", "reason": "…", "created_at": "…Z", "updated_at": "…Z"}
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.answers import reads_answers
from connectors.models import (
    ExternalCustomer,
    SatisfactionRating,
    Ticket,
    TicketComment,
)

SOURCE = "zendesk"

TICKET_STATUSES = frozenset({"new", "open", "pending", "hold", "solved", "closed"})
"""The statuses Zendesk documents (custom statuses report one of them as
``status``). Anything else — a status added later, ``deleted`` from an export,
the upper case of event webhooks — is read as one of these or ``unknown``."""

UNKNOWN_STATUS = "unknown"

log = logging.getLogger(__name__)


def parse_time(value: str) -> datetime:
    """A Zendesk timestamp as an aware UTC datetime."""
    return datetime.fromisoformat(value).astimezone(UTC)


def _optional_id(value: object) -> str | None:
    return None if value is None else str(value)


@reads_answers(SOURCE)
def customer_from_user(user: Mapping[str, Any]) -> ExternalCustomer:
    first, _, last = (user.get("name") or "").partition(" ")
    email = user.get("email")
    created = user.get("created_at")
    return ExternalCustomer(
        source=SOURCE,
        external_id=str(user["id"]),
        email=email.lower() if email else None,
        phone=user.get("phone") or None,
        first_name=first or None,
        last_name=last or None,
        created_at=parse_time(created) if created else None,
        tags=tuple(user.get("tags") or ()),
        properties={
            "role": user.get("role"),
            "active": user.get("active", True),
            "suspended": user.get("suspended", False),
            "locale": user.get("locale"),
            "time_zone": user.get("iana_time_zone") or user.get("time_zone"),
        },
    )


def satisfaction_from_ticket(ticket: Mapping[str, Any]) -> SatisfactionRating | None:
    """The rating embedded in a ticket; ``None`` when CSAT is disabled."""
    rating = ticket.get("satisfaction_rating")
    if not rating:
        return None
    return SatisfactionRating(
        id=str(rating.get("id") or f"ticket-{ticket['id']}"),
        ticket_id=str(ticket["id"]),
        score=rating["score"],
        comment=rating.get("comment") or None,
    )


@reads_answers(SOURCE)
def satisfaction_from_rating(rating: Mapping[str, Any]) -> SatisfactionRating:
    created = rating.get("created_at")
    return SatisfactionRating(
        id=str(rating["id"]),
        ticket_id=str(rating["ticket_id"]),
        score=rating["score"],
        created_at=parse_time(created) if created else None,
        comment=rating.get("comment") or None,
    )


def ticket_status(value: object) -> str:
    """``value`` lower-cased when Zendesk documents it, else ``unknown``, so
    the gateway's ``TicketStatus`` enum, its filter and the open-ticket counts
    agree on every ticket and a new upstream status cannot fail a response."""
    status = value.lower() if isinstance(value, str) else ""
    if status in TICKET_STATUSES:
        return status
    log.warning("zendesk ticket status %r is not known; read as unknown", value)
    return UNKNOWN_STATUS


@reads_answers(SOURCE)
def ticket_from_json(ticket: Mapping[str, Any]) -> Ticket:
    via = ticket.get("via") or {}
    return Ticket(
        id=str(ticket["id"]),
        requester_id=str(ticket["requester_id"]),
        subject=ticket.get("subject") or ticket.get("raw_subject") or "",
        status=ticket_status(ticket.get("status")),
        created_at=parse_time(ticket["created_at"]),
        updated_at=parse_time(ticket["updated_at"]),
        priority=ticket.get("priority"),
        type=ticket.get("type"),
        channel=via.get("channel"),
        tags=tuple(ticket.get("tags") or ()),
        satisfaction=satisfaction_from_ticket(ticket),
    )


@reads_answers(SOURCE)
def comment_from_json(ticket_id: str, comment: Mapping[str, Any]) -> TicketComment:
    """``public: false`` marks an internal note; callers decide who may see it."""
    return TicketComment(
        id=str(comment["id"]),
        ticket_id=ticket_id,
        author_id=_optional_id(comment.get("author_id")),
        body=comment.get("plain_body") or comment.get("body") or "",
        public=bool(comment.get("public", True)),
        created_at=parse_time(comment["created_at"]),
    )
