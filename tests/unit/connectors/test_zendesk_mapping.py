"""Zendesk JSON -> canonical models."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.zendesk.mapping import (
    comment_from_json,
    customer_from_user,
    satisfaction_from_rating,
    ticket_from_json,
)

TICKET = {
    "id": 30011223344551,
    "requester_id": 30011220000001,
    "subject": "Where is my order #1042?",
    "status": "pending",
    "priority": None,
    "type": "question",
    "via": {"channel": "email", "source": {"from": {}, "to": {}, "rel": None}},
    "tags": ["order-tracking"],
    "created_at": "2025-02-20T16:05:31Z",
    "updated_at": "2025-02-21T08:00:00Z",
    "satisfaction_rating": {"id": 77, "score": "bad", "comment": "Too slow"},
}


def test_ticket_ids_are_strings_and_times_are_utc():
    ticket = ticket_from_json(TICKET)
    assert ticket.id == "30011223344551"
    assert ticket.requester_id == "30011220000001"
    assert ticket.created_at == datetime(2025, 2, 20, 16, 5, 31, tzinfo=UTC)
    assert ticket.channel == "email"
    assert ticket.tags == ("order-tracking",)


def test_embedded_rating_variants_map_to_a_score_or_none():
    rated = ticket_from_json(TICKET).satisfaction
    assert rated is not None
    assert (rated.id, rated.score, rated.comment) == ("77", "bad", "Too slow")
    offered = ticket_from_json({**TICKET, "satisfaction_rating": {"score": "offered"}})
    assert offered.satisfaction is not None
    assert offered.satisfaction.score == "offered"
    assert (
        ticket_from_json({**TICKET, "satisfaction_rating": None}).satisfaction is None
    )


def test_private_comment_keeps_public_false():
    comment = comment_from_json(
        "10042",
        {
            "id": 40011220000001,
            "author_id": 30011219999001,
            "body": "<p>note</p>",
            "plain_body": "note",
            "public": False,
            "created_at": "2025-02-20T16:05:31Z",
        },
    )
    assert comment.public is False
    assert comment.body == "note"
    assert comment.author_id == "30011219999001"


def test_user_maps_to_external_customer_with_lowercase_email():
    customer = customer_from_user(
        {
            "id": 30011220000001,
            "name": "Maya van Lind",
            "email": "Maya@Example.com",
            "phone": None,
            "created_at": "2024-01-01T00:00:00Z",
            "tags": ["vip"],
            "active": False,
            "suspended": True,
            "iana_time_zone": "Europe/Berlin",
        }
    )
    assert customer.external_id == "30011220000001"
    assert customer.email == "maya@example.com"
    assert (customer.first_name, customer.last_name) == ("Maya", "van Lind")
    assert customer.properties["suspended"] is True
    assert customer.properties["time_zone"] == "Europe/Berlin"


def test_listed_rating_carries_ticket_and_time():
    rating = satisfaction_from_rating(
        {
            "id": 5,
            "ticket_id": 10042,
            "score": "good",
            "comment": "",
            "created_at": "2025-03-01T10:00:00Z",
        }
    )
    assert (rating.ticket_id, rating.comment) == ("10042", None)
    assert rating.created_at == datetime(2025, 3, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("upstream", "status"),
    [("open", "open"), ("OPEN", "open"), ("Hold", "hold"), ("deleted", "unknown")],
)
def test_ticket_status_is_a_documented_one_in_lower_case_or_unknown(
    upstream: str, status: str
) -> None:
    assert ticket_from_json({**TICKET, "status": upstream}).status == status


def test_a_ticket_without_a_status_reads_as_unknown() -> None:
    ticket = {k: v for k, v in TICKET.items() if k != "status"}
    assert ticket_from_json(ticket).status == "unknown"
