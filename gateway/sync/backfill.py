"""Backfills: bring links (and, for the store, customers) up to date with an
upstream, for ``customer-graph sync``.

Shopify can list its customers by ``updated_at``, so its backfill walks them
oldest change first and, batch by batch, keeps an existing link, else links our
customer with that email, else the only one with that phone, else creates the
CRM customer (a record without a usable email is skipped: email is our key).
Each batch commits together with the newest ``updated_at`` it saw in
``sync_state``, so an interrupted run resumes where it stopped and a second run
finds nothing new to create. Resuming starts one second early: customers that
share the boundary second are re-read, which is harmless, rather than missed.
A batch that loses a race with a webhook or a request creating or linking the
same customer is rolled back and run again (``retry_on_conflict``), then
finding that customer; its counts are added only once it has committed.

Zendesk and PostHog cannot list everyone, so their backfill goes the other way:
our customers, in id order, are linked through ``identity.resolve_links``
(batched email, then phone, look-ups). ``sync_state.cursor`` holds the last
customer id done while a run is under way and is cleared when it completes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.base import Connector
from connectors.models import ExternalCustomer
from connectors.shopify.client import ShopifyConnector
from gateway.db import models
from gateway.db.races import retry_on_conflict
from gateway.identity.links import Sessions, linked_ids, resolve_links
from gateway.identity.matching import (
    add_link,
    clean_email,
    clean_phone,
    customers_by_contacts,
    first_match,
)
from gateway.identity.rules import MatchRule, MatchRules, explain

SOURCES = ("shopify", "zendesk", "posthog")
BATCH = 100
RESUME_OVERLAP = timedelta(seconds=1)
_SINCE = re.compile(r"^(\d+)([dh])$")

Progress = Callable[[int], None]


class BadSyncInput(ValueError):
    """The command line asked for something we cannot do."""


@dataclass(slots=True)
class SyncReport:
    source: str
    started_from: datetime | None = None
    seen: int = 0
    already_linked: int = 0
    linked: int = 0
    created: int = 0
    skipped: int = 0
    """Shopify records without a usable email."""
    unmatched: int = 0
    """Our customers found nowhere upstream (Zendesk, PostHog)."""
    touched: list[int] = field(default_factory=list)
    """Customers newly linked or created: their cached "unknown upstream"
    marks must go (the caller announces them as changes)."""

    def add(self, batch: SyncReport) -> None:
        """Count a committed batch's report in."""
        self.seen += batch.seen
        self.already_linked += batch.already_linked
        self.linked += batch.linked
        self.created += batch.created
        self.skipped += batch.skipped
        self.touched += batch.touched

    def rows(self) -> list[tuple[str, int]]:
        """The counts worth printing for this source."""
        counts = [("seen", self.seen), ("already linked", self.already_linked)]
        counts.append(("newly linked", self.linked))
        if self.source == "shopify":
            return [
                *counts,
                ("created", self.created),
                ("skipped (no email)", self.skipped),
            ]
        return [*counts, ("unmatched", self.unmatched)]


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``60d``, ``12h`` or an ISO date/datetime (UTC when no zone is given)."""
    now = now or datetime.now(UTC)
    value = text.strip()
    if match := _SINCE.match(value):
        amount, unit = int(match[1]), match[2]
        return now - (
            timedelta(days=amount) if unit == "d" else timedelta(hours=amount)
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadSyncInput(
            f"--since {text!r}: use Nd, Nh or an ISO date such as 2025-01-31."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def sync_shopify(
    sessions: Sessions,
    connector: ShopifyConnector,
    since: datetime,
    *,
    full: bool = False,
    progress: Progress | None = None,
    rules: MatchRules | None = None,
) -> SyncReport:
    """Link or create a CRM customer for every Shopify customer updated since
    ``since`` (or since the last run stopped, when later and not ``full``),
    finding ours by ``rules`` (``MatchRules.default()`` when not given)."""
    rules = rules or MatchRules.default()
    start = since
    state = await _state(sessions, "shopify")
    if not full and state and state.synced_until:
        start = max(since, state.synced_until - RESUME_OVERLAP)
    report = SyncReport("shopify", started_from=start)
    batch: list[ExternalCustomer] = []
    async for upstream in connector.iter_customers(start):
        batch.append(upstream)
        if len(batch) == BATCH:
            report.add(await _shopify_batch(sessions, rules, batch))
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        report.add(await _shopify_batch(sessions, rules, batch))
        if progress:
            progress(len(batch))
    return report


async def _shopify_batch(
    sessions: Sessions, rules: MatchRules, batch: Sequence[ExternalCustomer]
) -> SyncReport:
    return await retry_on_conflict(lambda: _shopify_batch_once(sessions, rules, batch))


async def _shopify_batch_once(
    sessions: Sessions, rules: MatchRules, batch: Sequence[ExternalCustomer]
) -> SyncReport:
    report = SyncReport("shopify")
    report.seen += len(batch)
    gids = [c.external_id for c in batch]
    emails = {c.external_id: clean_email(c.email) for c in batch}
    phones = {c.external_id: clean_phone(c.phone) for c in batch}
    async with sessions() as session, session.begin():
        linked = set(
            await session.scalars(
                select(models.Identity.external_id).where(
                    models.Identity.source == "shopify",
                    models.Identity.external_id.in_(gids),
                )
            )
        )
        by_email, by_phone = await customers_by_contacts(
            session,
            rules,
            {e for e in emails.values() if e},
            {p for p in phones.values() if p},
        )
        for upstream in batch:
            gid = upstream.external_id
            email, phone = emails[gid], phones[gid]
            if gid in linked:
                report.already_linked += 1
                continue
            match = first_match(
                rules,
                "shopify",
                {
                    MatchRule.EMAIL: (email, by_email),
                    MatchRule.PHONE: (phone, by_phone),
                },
            )
            if match is None:
                if email is None:
                    report.skipped += 1
                    continue
                customer = _new_customer(upstream, email, phone)
                session.add(customer)
                await session.flush()
                by_email[email] = customer.id
                match = customer.id, explain(MatchRule.EXTERNAL_ID, "shopify", gid)
                report.created += 1
            customer_id, explanation = match
            add_link(session, customer_id, "shopify", gid, explanation)
            linked.add(gid)
            report.linked += 1
            report.touched.append(customer_id)
        await _save_state(session, "shopify", synced_until=_newest(batch))
    return report


def _new_customer(
    upstream: ExternalCustomer, email: str, phone: str | None
) -> models.Customer:
    return models.Customer(
        email=email,
        phone=phone,
        first_name=(upstream.first_name or "")[:100] or None,
        last_name=(upstream.last_name or "")[:100] or None,
    )


def _newest(batch: Sequence[ExternalCustomer]) -> datetime | None:
    stamps = [
        datetime.fromisoformat(text).astimezone(UTC)
        for c in batch
        if isinstance(text := c.properties.get("updated_at"), str)
    ]
    return max(stamps, default=None)


async def link_customers(
    sessions: Sessions,
    connector: Connector,
    *,
    full: bool = False,
    progress: Progress | None = None,
    rules: MatchRules | None = None,
) -> SyncReport:
    """Link our customers to ``connector``'s users/persons by the strong
    ``rules`` (``MatchRules.default()`` when not given)."""
    rules = rules or MatchRules.default()
    source = connector.name
    report = SyncReport(source)
    state = await _state(sessions, source)
    after = 0 if full or state is None or not state.cursor else int(state.cursor)
    while True:
        async with sessions() as session:
            customers = (
                await session.scalars(
                    select(models.Customer)
                    .where(models.Customer.id > after)
                    .order_by(models.Customer.id)
                    .limit(BATCH)
                )
            ).all()
        if not customers:
            break
        known = await linked_ids(sessions, source, [c.id for c in customers])
        links = await resolve_links(sessions, connector, customers, rules)
        report.seen += len(customers)
        report.already_linked += len(known)
        report.linked += len(links) - len(known)
        report.unmatched += len(customers) - len(links)
        report.touched.extend(cid for cid in links if cid not in known)
        after = customers[-1].id
        async with sessions() as session, session.begin():
            await _save_state(session, source, cursor=str(after))
        if progress:
            progress(len(customers))
    async with sessions() as session, session.begin():
        await _save_state(session, source, cursor=None)
    return report


async def count_customers(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count(models.Customer.id))) or 0)


async def _state(sessions: Sessions, source: str) -> models.SyncState | None:
    async with sessions() as session:
        return await session.get(models.SyncState, source)


async def _save_state(
    session: AsyncSession,
    source: str,
    *,
    synced_until: datetime | None = None,
    cursor: str | None = None,
) -> None:
    """Upsert the state row; ``synced_until`` only ever moves forward."""
    state = await session.get(models.SyncState, source)
    if state is None:
        state = models.SyncState(source=source)
        session.add(state)
    state.cursor = cursor
    if synced_until and (
        state.synced_until is None or synced_until > state.synced_until
    ):
        state.synced_until = synced_until
    state.updated_at = datetime.now(UTC)
