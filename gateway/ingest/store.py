"""Writing accepted messages: one transaction per request, and a constant
number of statements whatever the batch size.

Inside the transaction, in this order:

1. messages already stored (``tracked_events.message_id``) or repeated in the
   request are dropped — one SELECT;
2. userIds (and alias previousIds) are resolved through ``identities``
   (source ``segment``) — one SELECT;
3. identify creates or updates customers (``profiles``: a handful of
   statements, none per message);
4. new userId links, from identify and (server write key only) alias — one
   INSERT … ON CONFLICT DO NOTHING;
5. server write key only: the other messages whose userId is not linked find
   their customer by the email they name (``Message.email``: its
   ``context.traits``, ``properties`` or external ids) — one SELECT, when any
   email is not one identify already met; a message never links its userId
   this way, and the public key never finds a customer by email;
6. every message as a ``tracked_events`` row — one INSERT … ON CONFLICT
   (message_id) DO NOTHING, so a repeat racing in from another request is
   still stored once.

Two requests racing to create the same customer (or to take the same email,
or to link the same userId): the loser's transaction fails on the unique key,
nothing of it is stored, and it runs again from step 1 (``retry_on_conflict``),
now finding the winner's customer — as if it had arrived second. Should the
same keys keep changing under it, the last violation reaches the caller
(answered 503 ``conflict``, which the libraries retry).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.changes.bus import CustomerChange
from gateway.db.models import Customer, Identity, TrackedEvent
from gateway.db.races import retry_on_conflict
from gateway.db.upsert import dialect_insert
from gateway.errors import BadUserInput
from gateway.identity.merge import RESOLVED
from gateway.identity.rules import MatchRule, explain
from gateway.ingest.messages import Message
from gateway.ingest.profiles import Identified, identify_customers
from gateway.ingest.traits import TraitWarning
from gateway.validation import normalize_email

SOURCE = "segment"
"""``identities.source`` of a Segment userId."""

Sessions = async_sessionmaker[AsyncSession]

UNTRUSTED_ALIAS = (
    "not linked: only the server write key may link a userId to the customer "
    "of previousId"
)
"""Answered to every alias sent with the public write key."""


@dataclass(slots=True)
class Stored:
    warnings: list[TraitWarning] = field(default_factory=list)
    changes: list[CustomerChange] = field(default_factory=list)
    """One per customer touched; publish them once the transaction is committed."""


async def store_messages(
    sessions: Sessions,
    messages: Sequence[Message],
    received_at: datetime,
    *,
    trusted: bool,
) -> Stored:
    """Store ``messages``; ``trusted`` when they came with the server write key
    (what identify and alias may change depends on it, see ``profiles``)."""
    return await retry_on_conflict(
        lambda: _store(sessions, messages, received_at, trusted=trusted)
    )


async def _store(
    sessions: Sessions,
    messages: Sequence[Message],
    received_at: datetime,
    *,
    trusted: bool,
) -> Stored:
    result = Stored()
    touched: dict[int, str] = {}
    async with sessions() as session, session.begin():
        fresh = await _fresh(session, messages)
        wanted = {m.user_id for _, m in fresh if m.user_id}
        wanted |= {m.previous_id for _, m in fresh if m.previous_id}
        links = await _links(session, wanted)
        identified = await identify_customers(
            session,
            [(pos, m) for pos, m in fresh if m.type == "identify"],
            links,
            result.warnings,
            trusted=trusted,
        )
        new_links = {
            uid: (cid, "identify") for uid, cid in identified.new_links.items()
        }
        links.update(identified.new_links)
        for position, message in fresh:
            if message.type != "alias":
                continue
            if not trusted:
                # every alias, linked previousId or not: the answer must not
                # tell the sender which userIds are linked
                result.warnings.append(
                    TraitWarning(position, "userId", UNTRUSTED_ALIAS, True)
                )
                continue
            owner = links.get(message.previous_id or "")
            user_id = message.user_id
            if user_id and user_id not in links and owner:
                links[user_id] = owner
                new_links[user_id] = (owner, "alias")
        await _store_links(session, new_links)
        by_email = (
            await _by_email(session, fresh, links, identified, result.warnings)
            if trusted
            else {}
        )
        rows: list[dict[str, Any]] = []
        for position, message in fresh:
            customer_id = (
                identified.customers.get(position)
                or links.get(message.user_id or "")
                or by_email.get(position)
            )
            if customer_id is not None:
                if message.type == "identify":
                    touched[customer_id] = "identify"
                else:
                    touched.setdefault(customer_id, message.type)
            rows.append(_event_row(message, customer_id, received_at))
        if rows:
            statement = dialect_insert(session, TrackedEvent)
            await session.execute(
                statement.on_conflict_do_nothing(index_elements=["message_id"]), rows
            )
    result.changes = [
        CustomerChange(customer_id, "ingest", kind)
        for customer_id, kind in touched.items()
    ]
    return result


async def _by_email(
    session: AsyncSession,
    fresh: Sequence[tuple[int, Message]],
    links: dict[str, int],
    identified: Identified,
    warnings: list[TraitWarning],
) -> dict[int, int]:
    """Message position → customer id, for the messages other than identify
    that no userId link resolves, by the email they name; an email that is
    not one is noted as a warning."""
    wanted: dict[int, str] = {}
    for position, message in fresh:
        if message.email is None or message.user_id in links:
            continue
        placement, sent = message.email
        try:
            wanted[position] = normalize_email(sent, placement)
        except BadUserInput as exc:
            warnings.append(TraitWarning(position, placement, exc.message, True))
    found = dict(identified.by_email)
    unknown = set(wanted.values()) - found.keys()
    if unknown:
        rows = await session.execute(
            select(Customer.email, RESOLVED).where(Customer.email.in_(unknown))
        )
        found.update({email: customer_id for email, customer_id in rows})
    return {pos: found[email] for pos, email in wanted.items() if email in found}


async def _fresh(
    session: AsyncSession, messages: Sequence[Message]
) -> list[tuple[int, Message]]:
    ids = {m.message_id for m in messages}
    known = set(
        await session.scalars(
            select(TrackedEvent.message_id).where(TrackedEvent.message_id.in_(ids))
        )
    )
    fresh: list[tuple[int, Message]] = []
    for position, message in enumerate(messages):
        if message.message_id not in known:
            known.add(message.message_id)
            fresh.append((position, message))
    return fresh


async def _links(session: AsyncSession, user_ids: set[str]) -> dict[str, int]:
    if not user_ids:
        return {}
    rows = await session.execute(
        select(Identity.external_id, Identity.customer_id).where(
            Identity.source == SOURCE, Identity.external_id.in_(user_ids)
        )
    )
    return {external_id: customer_id for external_id, customer_id in rows}


async def _store_links(
    session: AsyncSession, links: dict[str, tuple[int, str]]
) -> None:
    """userId → (customer, how: ``identify`` or ``alias``); the sender named
    the id, so each link is explained by the ``external_id`` rule."""
    if not links:
        return
    rows = []
    for user_id, (customer_id, linked_by) in links.items():
        explanation = explain(MatchRule.EXTERNAL_ID, SOURCE, user_id)
        rows.append(
            {
                "customer_id": customer_id,
                "source": SOURCE,
                "external_id": user_id,
                "linked_by": linked_by,
                "explanation": explanation.to_json() | {"via": linked_by},
            }
        )
    statement = dialect_insert(session, Identity).on_conflict_do_nothing(
        index_elements=["source", "external_id"]
    )
    await session.execute(statement, rows)


def _event_row(
    message: Message, customer_id: int | None, received_at: datetime
) -> dict[str, Any]:
    return {
        "message_id": message.message_id,
        "customer_id": customer_id,
        "user_id": message.user_id,
        "anonymous_id": message.anonymous_id,
        "type": message.type,
        "name": message.name,
        "properties": message.properties,
        "context": message.context,
        "occurred_at": message.occurred_at,
        "received_at": received_at,
    }
