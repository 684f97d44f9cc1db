"""Create Ticket and Update Ticket, as the simulator answers them: what a
customer writing in, or an agent answering, does to the help desk.

``POST /api/v2/tickets`` takes ``{"ticket": {"comment": {"body": …},
"requester_id": …, "subject": …, "priority": …, "type": …, "tags": […]}}``
and answers 201 ``{"ticket": {…}}``; ``PUT /api/v2/tickets/{id}`` takes the
properties to change (``status``, ``priority``, ``subject``, ``tags``) and
answers 200 ``{"ticket": {…}}``
(https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/
[doc]). The only required property is ``comment``; this simulator also needs
an existing ``requester_id`` (Zendesk would default to the caller, or create
a requester), and answers 422 ``RecordInvalid`` without one [unverified body].
A write changes the ticket at once (show, ``show_many``, the user's requested
list) and reaches search later (``search.SearchIndex``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connectors.zendesk.simulator.data import (
    API_ROOT,
    COMMENT_ID_BASE,
    HelpDesk,
    zendesk_time,
)

JSON = dict[str, Any]

FIRST_NEW_TICKET = 900_000
BRAND_ID, TICKET_FORM_ID, NEW_STATUS_ID = 360000002, 360000003, 360000004
"""The demo desk's one brand and form (``data.py``), and a status id."""
CHANGEABLE = ("status", "priority", "subject", "tags", "type")
STATUSES = frozenset({"new", "open", "pending", "hold", "solved", "closed"})


class Invalid(ValueError):
    """A write Zendesk would refuse with 422 ``RecordInvalid``."""


def create_ticket(desk: HelpDesk, body: object) -> JSON:
    """The ticket ``body`` asks for, stored in ``desk`` with its first comment."""
    fields = _ticket_fields(body)
    comment = fields.get("comment")
    text = comment.get("body") if isinstance(comment, dict) else None
    requester = fields.get("requester_id")
    if not isinstance(text, str) or not text.strip():
        raise Invalid("comment: body is required")
    if type(requester) is not int or requester not in desk.users:
        raise Invalid("requester_id: no such user")
    ticket_id = max([FIRST_NEW_TICKET - 1, *desk.tickets]) + 1
    now = zendesk_time(datetime.now(UTC))
    ticket: JSON = {
        "url": f"{API_ROOT}/tickets/{ticket_id}.json",
        "id": ticket_id,
        "external_id": None,
        "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
        "created_at": now,
        "updated_at": now,
        "type": fields.get("type"),
        "subject": fields.get("subject") or text[:50],
        "raw_subject": fields.get("subject") or text[:50],
        "description": text,
        "priority": fields.get("priority"),
        "status": "new",
        "recipient": None,
        "requester_id": requester,
        "submitter_id": requester,
        "assignee_id": None,
        "organization_id": None,
        "group_id": None,
        "collaborator_ids": [],
        "follower_ids": [],
        "email_cc_ids": [],
        "forum_topic_id": None,
        "problem_id": None,
        "has_incidents": False,
        "is_public": True,
        "due_at": None,
        "tags": list(fields.get("tags") or []),
        "custom_fields": [],
        "fields": [],
        "satisfaction_rating": {"score": "unoffered"},
        "sharing_agreement_ids": [],
        "brand_id": BRAND_ID,
        "ticket_form_id": TICKET_FORM_ID,
        "custom_status_id": NEW_STATUS_ID,
        "allow_channelback": False,
        "allow_attachments": True,
        "from_messaging_channel": False,
        "generated_timestamp": int(datetime.now(UTC).timestamp()),
    }
    desk.tickets[ticket_id] = ticket
    desk.comments[ticket_id] = [
        {
            "id": COMMENT_ID_BASE + ticket_id * 10,
            "type": "Comment",
            "author_id": requester,
            "body": text,
            "html_body": f"<p>{text}</p>",
            "plain_body": text,
            "public": True,
            "attachments": [],
            "via": {"channel": "api"},
            "created_at": now,
        }
    ]
    return ticket


def update_ticket(desk: HelpDesk, ticket_id: int, body: object) -> JSON:
    """A new version of the ticket (the old one stays what search holds)."""
    fields = _ticket_fields(body)
    status = fields.get("status")
    if status is not None and status not in STATUSES:
        raise Invalid("status: not a ticket status")
    changes = {k: fields[k] for k in CHANGEABLE if k in fields}
    updated = {
        **desk.tickets[ticket_id],
        **changes,
        "updated_at": zendesk_time(datetime.now(UTC)),
    }
    desk.tickets[ticket_id] = updated
    return updated


def _ticket_fields(body: object) -> JSON:
    ticket = body.get("ticket") if isinstance(body, dict) else None
    if not isinstance(ticket, dict):
        raise Invalid("ticket: an object is required")
    return ticket
