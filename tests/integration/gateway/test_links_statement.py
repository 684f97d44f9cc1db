"""The customers' links are read with one statement built once
(``gateway.identity.links._links_statement``): its marks take their values
when read, not when built, so the mirror's mark (``reads.answers_for``) holds
for a person with an event or a check within ``CHECK_TTL`` of each read."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.db import models
from gateway.db.models import utcnow
from gateway.identity.links import _links_statement, split_links, stored_links
from gateway.loaders.sources import MIRROR_ANSWERS
from gateway.mirror.reads import CHECK_TTL
from gateway.runtime.services import Services

PERSONS = {
    "evented@example.com": True,  # an event in the mirror
    "checked@example.com": True,  # found quiet an hour ago
    "stale@example.com": False,  # found quiet longer ago than CHECK_TTL
    "unknown@example.com": False,  # never seen
}


async def test_each_read_marks_the_persons_the_mirror_answers_for_then(
    db: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = utcnow()
    async with db.sessions() as session, session.begin():
        customers = [models.Customer(email=person) for person in PERSONS]
        session.add_all(customers)
        await session.flush()
        session.add_all(
            models.Identity(customer_id=c.id, source="posthog", external_id=c.email)
            for c in customers
        )
        session.add_all(
            [
                models.PostHogEvent(
                    uuid="0193a0c4-0000-7000-8000-000000000001",
                    distinct_id="evented@example.com",
                    event="$pageview",
                    occurred_at=now - timedelta(days=400),
                    properties={},
                    via="destination",
                ),
                models.PostHogPersonCheck(
                    distinct_id="checked@example.com",
                    checked_at=now - timedelta(hours=1),
                ),
                models.PostHogPersonCheck(
                    distinct_id="stale@example.com",
                    checked_at=now - CHECK_TTL - timedelta(minutes=1),
                ),
            ]
        )
        ids = {c.email: c.id for c in customers}
    wanted = [("posthog", ids[person]) for person in PERSONS]
    marks = {"posthog": MIRROR_ANSWERS}

    for _ in range(2):  # the second read runs the statement the first built
        found = await stored_links(db.sessions, wanted, now, marks)
        assert found.marked == {("posthog", p): held for p, held in PERSONS.items()}
    assert _links_statement.cache_info().hits >= 1
    for pair in wanted:  # a customer alone: the statement's ``=`` form
        alone = await stored_links(db.sessions, [pair], now, marks)
        assert alone.links == {pair: found.links[pair]}
        assert alone.marked == {
            key: held
            for key, held in found.marked.items()
            if key[1] in split_links(alone.links[pair])
        }

    later = now + CHECK_TTL  # the hour-old check is past it then
    monkeypatch.setattr("gateway.loaders.sources.utcnow", lambda: later)
    found = await stored_links(db.sessions, wanted, later, marks)
    assert found.marked == {
        ("posthog", "evented@example.com"): True,
        ("posthog", "checked@example.com"): False,
        ("posthog", "stale@example.com"): False,
        ("posthog", "unknown@example.com"): False,
    }
