"""The help desk of the demo world, in Zendesk's REST shapes.

Every customer gets ``random.Random(world.seed_for(customer, "zendesk"))``, so a
seed always yields the same users, tickets, comments and ratings. Most customers
exist as Zendesk end-users; some never wrote in, a few are suspended or
deactivated. Tickets are what a clothing-and-home store hears about: order
tracking, returns, sizes, shipping delays and defects, with public replies,
private agent notes and satisfaction ratings (mostly good, some bad).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.demo_world import CATALOG, World, WorldCustomer

USER_ID_BASE = 30011220000000
COMMENT_ID_BASE = 40011220000000
RATING_ID_BASE = 50011220000000
AGENT_IDS = (30011219999001, 30011219999002, 30011219999003)
API_ROOT = "https://northwind.zendesk.com/api/v2"

JSON = dict[str, Any]

_TOPICS = (
    (
        "Where is my order #{order}?",
        "order-tracking",
        "question",
        "Hi, I ordered the {product} last week and tracking has not moved.",
    ),
    (
        "Return for {product}",
        "returns",
        "task",
        "I would like to return the {product}; how do I get a label?",
    ),
    (
        "Which size should I pick for the {product}?",
        "sizing",
        "question",
        "I am between two sizes for the {product}. What do you recommend?",
    ),
    (
        "Order #{order} delayed",
        "shipping-delay",
        "incident",
        "My order #{order} was due days ago and still has not arrived.",
    ),
    (
        "{product} arrived damaged",
        "product-defect",
        "problem",
        "The {product} arrived with a defect. I would like a replacement.",
    ),
)
_REPLIES = (
    "Thanks for reaching out! I have looked into this for you.",
    "Sorry about that. I have arranged a fix and will keep you posted.",
    "Happy to help: you will find the details in the link below.",
)
_NOTES = (
    "Carrier confirms the parcel is stuck at the depot.",
    "Customer is a repeat buyer; approved goodwill refund.",
    "Checked warehouse stock; replacement ships tomorrow.",
)
_BAD_COMMENTS = ("Took far too long.", "Still no refund.", "Nobody answered me.")
_GOOD_COMMENTS = ("Quick and friendly!", "Thanks, sorted.", "")


def zendesk_time(moment: datetime) -> str:
    """Zendesk REST time: UTC, ``Z``, no fraction."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class HelpDesk:
    """Users, tickets, comments (by ticket id), ratings and deleted users, as
    REST JSON."""

    users: dict[int, JSON] = field(default_factory=dict)
    tickets: dict[int, JSON] = field(default_factory=dict)
    comments: dict[int, list[JSON]] = field(default_factory=dict)
    ratings: list[JSON] = field(default_factory=list)
    deleted_users: dict[int, JSON] = field(default_factory=dict)
    """Users deleted through the API, by id; permanently deleted ones with
    their personal data gone (``server.py``)."""
    permanently_deleted: set[int] = field(default_factory=set)


def build_help_desk(world: World) -> HelpDesk:
    desk = HelpDesk()
    for customer in world.customers:
        rng = random.Random(world.seed_for(customer, "zendesk"))
        if rng.random() < 0.12:
            continue
        user = _user(customer, rng)
        desk.users[user["id"]] = user
        count = rng.choices((0, 1, 2, 3, 4, 6), weights=(30, 25, 20, 12, 8, 5))[0]
        for k in range(count):
            _add_ticket(desk, world, customer, rng, 10000 + customer.index * 10 + k)
    desk.ratings.sort(key=lambda r: r["created_at"])
    return desk


def _user(customer: WorldCustomer, rng: random.Random) -> JSON:
    user_id = USER_ID_BASE + customer.index
    roll = rng.random()
    created = zendesk_time(customer.signed_up_at)
    return {
        "id": user_id,
        "url": f"{API_ROOT}/users/{user_id}.json",
        "name": f"{customer.first_name} {customer.last_name}",
        "email": customer.email,
        "created_at": created,
        "updated_at": created,
        "time_zone": customer.timezone,
        "iana_time_zone": customer.timezone,
        "phone": customer.phone,
        "shared_phone_number": False if customer.phone else None,
        "photo": None,
        "locale_id": 1,
        "locale": customer.locale,
        "organization_id": None,
        "role": "end-user",
        "verified": True,
        "external_id": None,
        "tags": list(customer.tags),
        "alias": "",
        "active": roll >= 0.02,
        "shared": False,
        "shared_agent": False,
        "last_login_at": None,
        "two_factor_auth_enabled": False,
        "signature": None,
        "details": "",
        "notes": "",
        "custom_role_id": None,
        "moderator": False,
        "ticket_restriction": "requested",
        "only_private_comments": False,
        "restricted_agent": True,
        "suspended": 0.02 <= roll < 0.05,
        "user_fields": {},
    }


def _add_ticket(
    desk: HelpDesk,
    world: World,
    customer: WorldCustomer,
    rng: random.Random,
    ticket_id: int,
) -> None:
    liked = [p for p in CATALOG if p.category in customer.profile.categories]
    product = rng.choice(liked or list(CATALOG)).title
    subject, tag, kind, description = rng.choice(_TOPICS)
    order = 1000 + rng.randint(0, 8999)
    words = {"product": product, "order": order}
    span = max(1, (world.now - customer.signed_up_at).days)
    created = world.now - timedelta(
        days=rng.randint(0, min(span, 400)), hours=rng.randint(0, 23)
    )
    age = (world.now - created).days
    if age > 120:
        status = "closed"
    elif age > 7:
        status = rng.choice(("solved", "solved", "solved", "pending"))
    else:
        status = rng.choice(("new", "open", "open", "pending", "hold", "solved"))
    requester = USER_ID_BASE + customer.index
    agent = rng.choice(AGENT_IDS)
    moments = sorted(
        created + timedelta(hours=rng.randint(0, 72)) for _ in range(rng.randint(1, 4))
    )
    moments = [created, *moments]
    bodies = [(requester, description.format(**words), True)]
    for _ in moments[1:]:
        if rng.random() < 0.3:
            bodies.append((agent, rng.choice(_NOTES), False))
        else:
            bodies.append((agent, rng.choice(_REPLIES), True))
    desk.comments[ticket_id] = [
        _comment(ticket_id, j, author, body, public, moment)
        for j, ((author, body, public), moment) in enumerate(
            zip(bodies, moments, strict=True)
        )
    ]
    updated = moments[-1]
    desk.tickets[ticket_id] = {
        "url": f"{API_ROOT}/tickets/{ticket_id}.json",
        "id": ticket_id,
        "external_id": None,
        "via": {
            "channel": rng.choice(("email", "web", "chat", "api")),
            "source": {"from": {}, "to": {}, "rel": None},
        },
        "created_at": zendesk_time(created),
        "updated_at": zendesk_time(updated),
        "type": kind,
        "subject": subject.format(**words),
        "raw_subject": subject.format(**words),
        "description": description.format(**words),
        "priority": rng.choice(("low", "normal", "normal", "high", "urgent", None)),
        "status": status,
        "recipient": "support@northwind.example",
        "requester_id": requester,
        "submitter_id": requester,
        "assignee_id": agent if status != "new" else None,
        "organization_id": None,
        "group_id": 360000001,
        "collaborator_ids": [],
        "follower_ids": [],
        "email_cc_ids": [],
        "forum_topic_id": None,
        "problem_id": None,
        "has_incidents": False,
        "is_public": True,
        "due_at": None,
        "tags": [tag],
        "custom_fields": [],
        "fields": [],
        "satisfaction_rating": _rating(
            desk, rng, ticket_id, requester, agent, status, updated
        ),
        "sharing_agreement_ids": [],
        "brand_id": 360000002,
        "ticket_form_id": 360000003,
        "custom_status_id": 360000004,
        "allow_channelback": False,
        "allow_attachments": True,
        "from_messaging_channel": False,
        "generated_timestamp": int(updated.timestamp()),
    }


def _comment(
    ticket_id: int, j: int, author: int, body: str, public: bool, moment: datetime
) -> JSON:
    return {
        "id": COMMENT_ID_BASE + ticket_id * 10 + j,
        "type": "Comment",
        "author_id": author,
        "body": body,
        "html_body": f'<div class="zd-comment"><p>{body}</p></div>',
        "plain_body": body,
        "public": public,
        "attachments": [],
        "audit_id": COMMENT_ID_BASE + ticket_id * 10 + j + 5,
        "via": {
            "channel": "web" if j else "email",
            "source": {"from": {}, "to": {}, "rel": None},
        },
        "created_at": zendesk_time(moment),
        "metadata": {"system": {"client": "Mozilla/5.0"}, "custom": {}},
    }


def _rating(
    desk: HelpDesk,
    rng: random.Random,
    ticket_id: int,
    requester: int,
    agent: int,
    status: str,
    moment: datetime,
) -> JSON:
    if status not in ("solved", "closed"):
        return {"score": "unoffered"}
    roll = rng.random()
    if roll < 0.2:
        return {"score": "offered"}
    if roll < 0.3:
        return {"score": "unoffered"}
    score = "bad" if rng.random() < 0.25 else "good"
    comment = rng.choice(_BAD_COMMENTS if score == "bad" else _GOOD_COMMENTS)
    rating_id = RATING_ID_BASE + ticket_id
    stamp = zendesk_time(moment + timedelta(hours=1))
    desk.ratings.append(
        {
            "id": rating_id,
            "url": f"{API_ROOT}/satisfaction_ratings/{rating_id}.json",
            "assignee_id": agent,
            "group_id": 360000001,
            "requester_id": requester,
            "ticket_id": ticket_id,
            "score": score,
            "comment": comment,
            "reason": "Some other reason" if score == "bad" else None,
            "reason_code": 100 if score == "bad" else 0,
            "reason_id": None,
            "created_at": stamp,
            "updated_at": stamp,
        }
    )
    return {
        "id": rating_id,
        "score": score,
        "comment": comment,
        "reason": None,
        "reason_id": None,
    }
