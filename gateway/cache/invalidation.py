"""Evicts a customer's cached upstream data the moment something changes it.

Subscribed to the change bus: a webhook, an ingest call or a mutation that
touches a customer deletes every cached namespace keyed by that customer's
external ids (and the "unknown upstream" markers of the customer, cached and
stored), so the next read goes upstream. With Redis the deletion is shared by
every replica. A CRM write to our own data only (a tag, a note, a task, a
consent, loyalty points: ``OWN_DATA_ONLY``) changes nothing an upstream holds
nor what links the customer to one: their upstream data stays cached (the
response cache still moves: ``gateway.cache.responses``), so a help-desk
sidebar that tags a customer is not answered from three upstream calls.

A Zendesk ticket's comments are cached by ticket: those of the tickets in the
customer's cached ticket list, and of the tickets a webhook announced lately
(``gateway.db.ticket_changes``), are deleted. The second find the ticket of
the webhook that caused the change even when its list is not cached (never
stored, or its store refused: an eviction that came while it was fetched).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.cache.namespaces import SOURCES, UpstreamCaches, link_key
from gateway.changes.bus import CustomerChange
from gateway.db import models
from gateway.db.ticket_changes import announced_tickets
from gateway.identity.links import forget_checks

OWN_DATA_ONLY = frozenset(
    {
        "note_added",
        "tag_added",
        "tag_removed",
        "consent_changed",
        "loyalty_changed",
        "task_created",
        "task_completed",
        "promo_code_created",
        "automation_ran",
    }
)
"""Kinds of ``crm`` change that write only our own tables; any other change
(a profile, a merge, an erasure, a webhook, an ingest call, one unknown here)
evicts."""


class Invalidator:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], caches: UpstreamCaches
    ) -> None:
        self.sessions = sessions
        self.caches = caches

    async def __call__(self, changes: Sequence[CustomerChange]) -> None:
        if touched := {
            c.customer_id
            for c in changes
            if c.source != "crm" or c.kind not in OWN_DATA_ONLY
        }:
            await self.forget_customers(touched)

    async def forget_customers(self, customer_ids: Collection[int]) -> None:
        """One transaction for the customers' identities and stored look-up
        misses, then one delete per cache namespace."""
        async with self.sessions() as session, session.begin():
            await forget_checks(session, customer_ids)
            identities = list(
                await session.execute(
                    select(models.Identity.source, models.Identity.external_id).where(
                        models.Identity.customer_id.in_(customer_ids)
                    )
                )
            )
            users = [ext for src, ext in identities if src == "zendesk"]
            announced = await announced_tickets(session, users) if users else []
        await self.caches.links.forget(
            [link_key(source, cid) for source in SOURCES for cid in customer_ids]
        )
        for source in SOURCES:
            external_ids = [ext for src, ext in identities if src == source]
            if not external_ids:
                continue
            if source == "zendesk":
                await self._forget_comments(external_ids, announced)
            for namespace in self.caches.by_external_id(source):
                await namespace.forget(external_ids)

    async def _forget_comments(
        self, user_ids: list[str], announced: Sequence[str]
    ) -> None:
        ticket_lists = await self.caches.zendesk_tickets.peek_many(user_ids)
        cached = [t.id for tickets in ticket_lists if tickets for t in tickets]
        if ticket_ids := list(dict.fromkeys([*cached, *announced])):
            await self.caches.zendesk_comments.forget(ticket_ids)
