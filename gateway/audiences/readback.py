"""Consent read back from Klaviyo, first thing in each sync: an unsubscribe
clicked in a Klaviyo email, a bounce or a spam complaint reaches the CRM.

Klaviyo records each of them as a suppression of the profile's email
marketing (an unsubscribe: consent ``UNSUBSCRIBED`` and an ``UNSUBSCRIBE``
suppression). One read — Get Profiles, filtered on the suppression's
timestamp since the connection last read, 100 a page — finds every profile
suppressed since, in the whole account: its cost is one call per 100 new
suppressions, not per member (a list's 100,000 members read with their
subscriptions would be 1,000 calls a sync). The first read of a connection
takes every suppression there is, once. Each read starts ``OVERLAP`` before
the latest suppression read last time, so one Klaviyo wrote late is still
found; reading one twice changes nothing.

For each customer whose address Klaviyo reports suppressed — a member of the
list or not yet (suppressed before our first subscribe):

* the CRM's email consent becomes ``denied``, source ``klaviyo``, at
  Klaviyo's time, recorded on the customer's history (``consent_changed``)
  and announced after the commit — unless the CRM recorded a consent after
  Klaviyo's opt-out (the newer word stands, nothing changes);
* a member the sync believes ``subscribed`` becomes ``unsubscribed``:
  nothing is sent for them; and with consent no longer granted the sync never
  subscribes anyone suppressed (Klaviyo's subscribe would lift an
  ``UNSUBSCRIBE`` suppression).

The read runs before every sync, one call at least, even while nobody is
subscribed yet: the first subscribe must not lift an earlier opt-out.

Nothing is written unless the whole read succeeded: Klaviyo failing during
the read leaves the CRM and the connection as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.errors import ConnectorError
from connectors.klaviyo.client import KlaviyoConnector
from connectors.models import EmailOptOut
from gateway.audiences.tables import SUBSCRIBED, UNSUBSCRIBED, AudienceConnection
from gateway.audiences.tables import AudienceMember as Member
from gateway.changes import history
from gateway.db import models
from gateway.db.upsert import dialect_insert
from gateway.errors import NotFound

Sessions = async_sessionmaker[AsyncSession]
SOURCE = "klaviyo"
OVERLAP = timedelta(minutes=15)
EMAILS_PER_STATEMENT = 1000


@dataclass(frozen=True, slots=True)
class ReadBack:
    opted_out: int = 0
    """Members Klaviyo reported suppressed, now ``unsubscribed``."""
    withdrawn: tuple[int, ...] = ()
    """Customers whose CRM email consent this read withdrew."""


class ReadBackFailed(Exception):
    """Klaviyo's consents could not be read back; nothing was changed or
    sent. The cause is the connector's error."""


async def read_back(
    sessions: Sessions, klaviyo: KlaviyoConnector, connection_id: int
) -> ReadBack:
    """Read Klaviyo's opt-outs since the connection's last read and apply
    them."""
    async with sessions() as session:
        connection = await session.get(AudienceConnection, connection_id)
        if connection is None:
            raise NotFound("No such audience connection.")
        read_to = connection.opt_outs_read_to
    try:
        opt_outs = await klaviyo.opt_outs_since(read_to - OVERLAP if read_to else None)
    except ConnectorError as exc:
        raise ReadBackFailed(connection_id) from exc
    async with sessions.begin() as session:
        done = await _apply(session, connection_id, opt_outs)
        latest = max((o.at for o in opt_outs), default=None)
        if latest is not None and (read_to is None or latest > read_to):
            await session.execute(
                update(AudienceConnection)
                .where(AudienceConnection.id == connection_id)
                .values(opt_outs_read_to=latest)
            )
    return done


async def _apply(
    session: AsyncSession, connection_id: int, opt_outs: Sequence[EmailOptOut]
) -> ReadBack:
    by_email = {o.email: o for o in sorted(opt_outs, key=lambda o: o.at)}
    emails = list(by_email)
    consent = models.Consent
    customer = models.Customer
    opted_out: list[int] = []
    withdrawn: list[tuple[int, EmailOptOut]] = []
    for start in range(0, len(emails), EMAILS_PER_STATEMENT):
        rows = await session.execute(
            select(
                customer.id,
                customer.email,
                consent.state,
                consent.changed_at,
                Member.state,
            )
            .outerjoin(
                Member,
                and_(
                    Member.customer_id == customer.id,
                    Member.connection_id == connection_id,
                ),
            )
            .outerjoin(
                consent,
                and_(consent.customer_id == customer.id, consent.channel == "email"),
            )
            .where(customer.email.in_(emails[start : start + EMAILS_PER_STATEMENT]))
        )
        for customer_id, email, state, changed_at, member_state in rows:
            opt_out = by_email[email]
            if state == "granted" and changed_at > opt_out.at:
                continue  # the CRM's word is newer
            if member_state == SUBSCRIBED:
                opted_out.append(customer_id)
            if state == "granted":
                withdrawn.append((customer_id, opt_out))
    if opted_out:
        await session.execute(
            update(Member)
            .where(
                Member.connection_id == connection_id,
                Member.customer_id.in_(opted_out),
            )
            .values(state=UNSUBSCRIBED, synced_at=models.utcnow())
        )
    if withdrawn:
        await _withdraw(session, withdrawn)
    return ReadBack(len(opted_out), tuple(cid for cid, _ in withdrawn))


async def _withdraw(
    session: AsyncSession, withdrawn: Sequence[tuple[int, EmailOptOut]]
) -> None:
    """Email consent ``denied`` at Klaviyo's time, on each one's history."""
    insert = dialect_insert(session, models.Consent)
    await session.execute(
        insert.values(
            [
                {
                    "customer_id": customer_id,
                    "channel": "email",
                    "state": "denied",
                    "source": SOURCE,
                    "changed_at": opt_out.at,
                }
                for customer_id, opt_out in withdrawn
            ]
        ).on_conflict_do_update(
            index_elements=["customer_id", "channel"],
            set_={
                "state": insert.excluded.state,
                "source": insert.excluded.source,
                "changed_at": insert.excluded.changed_at,
            },
        )
    )
    for customer_id, opt_out in withdrawn:
        event = history.record(
            session,
            customer_id,
            "consent_changed",
            "Email consent denied",
            actor=SOURCE,
            channel="email",
            state="denied",
            reason=opt_out.reason,
        )
        event.occurred_at = opt_out.at
