"""Seeds the CRM tables from the demo world (``connectors.demo_world``): the same
people the simulated Shopify, Zendesk and PostHog know, with addresses,
consents, tags, notes, loyalty points and preferences. Deterministic for a seed."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Table, insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.demo_world import World, WorldCustomer
from gateway.db import models

BATCH = 200

_NOTES = (
    "Prefers delivery after 6pm.",
    "Asked about the loyalty programme; explained tiers.",
    "Called about a late parcel; offered a 10% code.",
    "VIP: hand-written thank-you card with the next order.",
    "Allergic to fragrance; recommend the unscented skincare line.",
    "Interested in the white-glove furniture delivery.",
)
_SIZES = ("XS", "S", "M", "L", "XL")
_COLOURS = ("black", "navy", "camel", "olive", "burgundy", "grey")


def _rows(world: World, person: WorldCustomer) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(world.seed_for(person, "crm"))
    cid = person.index + 1
    a = person.address
    rows: dict[str, list[dict[str, Any]]] = {
        "addresses": [
            {
                "customer_id": cid,
                "kind": "shipping",
                "line1": a.line1,
                "city": a.city,
                "region": a.region,
                "postcode": a.postcode,
                "country": a.country,
                "is_default": True,
            }
        ],
        "tags": [
            {"customer_id": cid, "name": t, "created_at": person.signed_up_at}
            for t in person.tags
        ],
        "consents": [
            {
                "customer_id": cid,
                "channel": channel,
                "state": "granted" if granted else "denied",
                "source": "checkout",
                "changed_at": person.signed_up_at,
            }
            for channel, granted in (
                ("email", person.email_consent),
                ("sms", person.sms_consent),
            )
        ],
        "notes": [],
        "loyalty_entries": [],
        "preferences": [
            {"customer_id": cid, "key": "size", "value": rng.choice(_SIZES)},
            {"customer_id": cid, "key": "colour", "value": rng.choice(_COLOURS)},
        ],
    }
    if rng.random() < 0.25:
        rows["addresses"].append(
            {**rows["addresses"][0], "kind": "billing", "is_default": False}
        )
    for n in range(rng.choice((0, 0, 1, 2))):
        rows["notes"].append(
            {
                "customer_id": cid,
                "author": rng.choice(("maya@support", "leo@sales", "ops-bot")),
                "body": rng.choice(_NOTES),
                "created_at": world.now
                - timedelta(days=rng.randint(1, 300), minutes=n),
            }
        )
    for _ in range(rng.randint(0, 4)):
        rows["loyalty_entries"].append(
            {
                "customer_id": cid,
                "points": rng.choice((50, 100, 250)),
                "reason": "order reward",
                "created_at": world.now - timedelta(days=rng.randint(1, 500)),
            }
        )
    rows["customer_events"] = _history(rows)
    return rows


def _history(rows: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The timeline's record of the seeded CRM data, as the CRM writes it."""
    events: list[dict[str, Any]] = []

    def event(
        row: dict[str, Any], kind: str, summary: str, at: Any, **payload: Any
    ) -> None:
        events.append(
            {
                "customer_id": row["customer_id"],
                "kind": kind,
                "source": "crm",
                "summary": summary,
                "actor": payload.pop("actor", None),
                "payload": payload,
                "occurred_at": at,
            }
        )

    for note in rows["notes"]:
        event(
            note, "note_added", note["body"], note["created_at"], actor=note["author"]
        )
    for tag in rows["tags"]:
        event(
            tag,
            "tag_added",
            f"Tag {tag['name']} added",
            tag["created_at"],
            tag=tag["name"],
        )
    for consent in rows["consents"]:
        channel, state = consent["channel"], consent["state"]
        event(
            consent,
            "consent_changed",
            f"{channel.capitalize()} consent {state}",
            consent["changed_at"],
            actor=consent["source"],
            channel=channel,
            state=state,
        )
    for entry in rows["loyalty_entries"]:
        event(
            entry,
            "loyalty_changed",
            f"{entry['points']:+d} loyalty points: {entry['reason']}",
            entry["created_at"],
            points=entry["points"],
            reason=entry["reason"],
        )
    return events


def _customer(person: WorldCustomer) -> dict[str, Any]:
    return {
        "id": person.index + 1,
        "email": person.email,
        "phone": person.phone,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "birth_date": person.birth_date,
        "locale": person.locale,
        "timezone": person.timezone,
        "created_at": person.signed_up_at,
        "updated_at": person.signed_up_at,
    }


_RESET_SEQUENCE = (
    "SELECT setval(pg_get_serial_sequence('customers', 'id'), max(id)) FROM customers"
)

_CUSTOMERS = models.Base.metadata.tables["customers"]
_TABLES: dict[str, Table] = {
    name: models.Base.metadata.tables[name]
    for name in (
        "addresses",
        "tags",
        "consents",
        "notes",
        "loyalty_entries",
        "preferences",
        "customer_events",
    )
}
"""Core inserts, into the tables rather than through the ORM classes: the
ORM's bulk insert made an object of each row, 4.5 times the CPU (60
customers: 45 -> 10 ms; thousands of tests and every demo seed)."""


async def seed(
    sessions: async_sessionmaker[AsyncSession],
    world: World,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Insert the world's customers in batches; returns how many."""
    people: Sequence[WorldCustomer] = world.customers
    for start in range(0, len(people), BATCH):
        batch = people[start : start + BATCH]
        children: dict[str, list[dict[str, Any]]] = {name: [] for name in _TABLES}
        for person in batch:
            for name, rows in _rows(world, person).items():
                children[name].extend(rows)
        async with sessions() as session, session.begin():
            await session.execute(insert(_CUSTOMERS), [_customer(p) for p in batch])
            for name, rows in children.items():
                if rows:
                    await session.execute(insert(_TABLES[name]), rows)
        if progress:
            progress(len(batch))
    async with sessions() as session, session.begin():
        if (await session.connection()).dialect.name == "postgresql":
            await session.execute(text(_RESET_SEQUENCE))
    return len(people)
