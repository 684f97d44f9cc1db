"""Keep a segment's members subscribed to a Klaviyo list, sending only what
changed since the last sync.

First it reads consent back from Klaviyo (``readback.py``): members Klaviyo
reports unsubscribed or suppressed become ``unsubscribed``, their CRM email
consent withdrawn. Then, against ``audience_members`` (what Klaviyo was last
told), it finds:

* **entered**: in the segment, email consent ``granted``, not ``subscribed``
  → Bulk Subscribe Profiles (1,000 a job);
* **withdrawn**: ``subscribed``, consent no longer granted (denied, pending,
  erased) → Bulk Unsubscribe Profiles (100 a job), which also takes them off
  the list — whether or not they are still in the segment;
* **exited**: ``subscribed``, consent granted, no longer in the segment →
  their Klaviyo ids read by email, then Remove Profiles from List (1,000 a
  call): off the list, their consent in Klaviyo untouched.

Addresses come from the CRM's ``customers.email``, never a masked view.
Each batch's new states are committed as soon as Klaviyo accepted it, so a
sync that fails half-way leaves a true record, and the next one sends only
the rest (a batch whose answer was lost is sent again: every one of these
calls leaves Klaviyo as it was when repeated). Syncs of one connection are
not meant to overlap: the scheduled one runs after the insights refresh,
which runs one at a time across replicas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Exists, Select, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.klaviyo.client import KlaviyoConnector
from connectors.klaviyo.limits import (
    LIST_MEMBERS_BATCH,
    SUBSCRIBE_BATCH,
    UNSUBSCRIBE_BATCH,
)
from gateway.audiences.readback import SOURCE, read_back
from gateway.audiences.tables import (
    REMOVED,
    SUBSCRIBED,
    UNSUBSCRIBED,
    AudienceConnection,
    AudienceMember,
)
from gateway.changes.bus import ChangeBus, CustomerChange
from gateway.db import models
from gateway.db.upsert import dialect_insert
from gateway.errors import NotFound
from gateway.insights.segments import member_ids
from gateway.insights.tables import Segment

Sessions = async_sessionmaker[AsyncSession]
Contact = tuple[int, str]
"""A customer id and the CRM's email address."""


@dataclass(frozen=True, slots=True)
class SyncReport:
    entered: int = 0
    exited: int = 0
    withdrawn: int = 0
    opted_out: int = 0
    """Subscribed members Klaviyo reported unsubscribed or suppressed."""
    failure: str | None = None
    """Why the sync stopped (``Audiences.sync_all``); what was recorded
    before stands."""


def email_consent_granted() -> Exists:
    c = models.Consent
    return exists().where(
        c.customer_id == models.Customer.id, c.channel == "email", c.state == "granted"
    )


def _recorded(connection_id: int, state: str) -> Exists:
    m = AudienceMember
    return exists().where(
        m.connection_id == connection_id,
        m.customer_id == models.Customer.id,
        m.state == state,
    )


def _contacts(*where: ColumnElement[bool]) -> Select[int, str]:
    customer = models.Customer
    return select(customer.id, customer.email).where(*where).order_by(customer.id)


async def differences(
    session: AsyncSession, connection: AudienceConnection, now: datetime
) -> tuple[list[Contact], list[Contact], list[Contact]]:
    """``(entered, exited, withdrawn)`` of the connection at ``now``."""
    segment = await session.get(Segment, connection.segment_id)
    if segment is None:
        raise NotFound("The connection's segment was deleted.")
    in_segment = models.Customer.id.in_(member_ids(segment, now).correlate(None))
    granted = email_consent_granted()
    subscribed = _recorded(connection.id, SUBSCRIBED)
    entered = await session.execute(_contacts(in_segment, granted, ~subscribed))
    exited = await session.execute(_contacts(subscribed, granted, ~in_segment))
    withdrawn = await session.execute(_contacts(subscribed, ~granted))
    return (
        [(i, e) for i, e in entered],
        [(i, e) for i, e in exited],
        [(i, e) for i, e in withdrawn],
    )


async def record(
    sessions: Sessions,
    connection_id: int,
    customer_ids: Sequence[int],
    state: str,
    now: datetime,
) -> None:
    """What Klaviyo accepted, committed at once."""
    if not customer_ids:
        return
    async with sessions.begin() as session:
        insert = dialect_insert(session, AudienceMember)
        rows = [
            {
                "connection_id": connection_id,
                "customer_id": cid,
                "state": state,
                "synced_at": now,
            }
            for cid in customer_ids
        ]
        await session.execute(
            insert.values(rows).on_conflict_do_update(
                index_elements=["connection_id", "customer_id"],
                set_={"state": state, "synced_at": now},
            )
        )


def _chunks(items: Sequence[Contact], size: int) -> list[Sequence[Contact]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def sync_connection(
    sessions: Sessions,
    klaviyo: KlaviyoConnector,
    changes: ChangeBus,
    connection_id: int,
    now: datetime,
) -> SyncReport:
    read = await read_back(sessions, klaviyo, connection_id)
    await changes.publish(
        *(CustomerChange(c, SOURCE, "consent_changed") for c in read.withdrawn)
    )
    async with sessions() as session:
        connection = await session.get(AudienceConnection, connection_id)
        if connection is None:
            raise NotFound("No such audience connection.")
        list_id = connection.list_id
        entered, exited, withdrawn = await differences(session, connection, now)
    for batch in _chunks(withdrawn, UNSUBSCRIBE_BATCH):
        await klaviyo.unsubscribe(list_id, [email for _, email in batch])
        await record(sessions, connection_id, [i for i, _ in batch], UNSUBSCRIBED, now)
    for batch in _chunks(exited, LIST_MEMBERS_BATCH):
        ids = await klaviyo.profile_ids([email for _, email in batch])
        if ids:
            await klaviyo.remove_from_list(list_id, list(ids.values()))
        await record(sessions, connection_id, [i for i, _ in batch], REMOVED, now)
    for batch in _chunks(entered, SUBSCRIBE_BATCH):
        await klaviyo.subscribe(list_id, [email for _, email in batch])
        await record(sessions, connection_id, [i for i, _ in batch], SUBSCRIBED, now)
    async with sessions.begin() as session:
        await session.execute(
            update(AudienceConnection)
            .where(AudienceConnection.id == connection_id)
            .values(synced_at=now)
        )
    return SyncReport(len(entered), len(exited), len(withdrawn), read.opted_out)
