"""A customer erased from every local table, in one transaction.

The customer's row is deleted, not anonymized: an anonymized row would still
be a person (their orders' facts, their RFM cell, their segment memberships),
and nothing we keep needs one. Every table that holds rows about the customer
is named below, by how it finds them — a test holds the list to the tables
the models declare, so a new table with a ``customer_id`` cannot be
forgotten. Consents go with the customer: no suppression record is kept (it
would have to name the person, by an email or its hash); a customer created
again later starts with no consent, so nothing is sent to them before they
grant one, and the email tools keep their own suppression lists.

Kept, ids only: ``audit_log`` (who read or changed the customer — the
accountability an erasure does not undo) and ``privacy_requests`` (the
request itself; the documents of the customer's earlier exports are
dropped); ``webhook_deliveries`` keep their dedup key and lose their
customer id.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from sqlalchemy import ColumnElement, Table, and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.cache.invalidation import Invalidator
from gateway.changes.bus import CustomerChange
from gateway.db import models
from gateway.privacy.requests import LOCAL, pending_source, record
from gateway.runtime.services import Services

log = logging.getLogger("gateway.privacy")

BY_CUSTOMER_ID = (
    "addresses",
    "identity_checks",
    "tags",
    "notes",
    "consents",
    "loyalty_entries",
    "preferences",
    "tasks",
    "customer_events",
    "tracked_events",
    "order_item_facts",
    "order_line_facts",
    "order_facts",
    "checkout_facts",
    "engagement_facts",
    "customer_traits",
    "customer_rfm",
    "insights_pending",
    "segment_members",
    "segment_membership_events",
    "automation_members",
    "automation_runs",
    "audience_members",
    "promo_codes",
    "outbound_messages",
    "identities",
    "customers",
)
"""Tables whose rows about the customer carry its id (``customers``: ``id``),
children before their parents."""
BY_UPSTREAM_ID = (
    ("posthog_events", "posthog", "distinct_id"),
    ("posthog_person_checks", "posthog", "distinct_id"),
    ("zendesk_ticket_changes", "zendesk", "requester_id"),
    ("tracked_events", "segment", "user_id"),
)
"""Rows found by the customer's id in a source (table, source, column): the
ingest's events of a Segment userId stored before it was linked too."""
NULLED = {"webhook_deliveries": "customer_id"}
KEPT = frozenset({"audit_log", "privacy_requests"})


def _table(name: str) -> Table:
    return models.Base.metadata.tables[name]


async def forget_upstream_ids(
    session: AsyncSession, source: str, ids: Collection[str]
) -> dict[str, int]:
    """Delete the rows kept by ``source``'s ids of a person (``BY_UPSTREAM_ID``):
    the linked one by the local erasure, every one the upstream named (a
    PostHog person's anonymous distinct ids) once it erased them."""
    deleted: dict[str, int] = {}
    for name, table_source, column in BY_UPSTREAM_ID:
        if table_source != source or not ids:
            continue
        table = _table(name)
        result = await session.execute(delete(table).where(table.c[column].in_(ids)))
        deleted[f"{name}.{column}"] = result.rowcount or 0  # type: ignore[attr-defined]
    return deleted


def anonymous_events(customer_id: int) -> ColumnElement[bool]:
    """The ingest's events of the customer's anonymous ids (a browser's
    before it identified), stored with no customer: the same person's."""
    events = models.TrackedEvent
    anonymous = (
        select(events.anonymous_id)
        .where(events.customer_id == customer_id, events.anonymous_id.is_not(None))
        .distinct()
        .scalar_subquery()
    )
    return and_(events.customer_id.is_(None), events.anonymous_id.in_(anonymous))


async def _anonymous_events(session: AsyncSession, customer_id: int) -> int:
    result = await session.execute(
        delete(models.TrackedEvent).where(anonymous_events(customer_id))
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


async def erase_local(
    session: AsyncSession, customer_id: int
) -> tuple[list[int], dict[str, int]]:
    """Delete the customer's rows in ``session``'s transaction, and those of
    every customer merged into it (the same person: their records point at
    it, their merges' journals hold their values); the person's ids, and rows
    deleted per table (the test's and the log's count; no value is logged).
    The customer's row is locked first: a merge or unmerge of it waits, then
    finds it gone; one committed before is seen (a merged customer is its
    survivor's person)."""
    survivor = await session.scalar(
        select(models.Customer.merged_into).where(models.Customer.id == customer_id)
    )
    if survivor is not None:
        customer_id = survivor
    await session.execute(
        update(models.Customer)
        .where(models.Customer.id == customer_id)
        .values(updated_at=models.Customer.updated_at)
        .execution_options(synchronize_session=False)
    )
    merged = list(
        await session.scalars(
            select(models.Customer.id).where(models.Customer.merged_into == customer_id)
        )
    )
    merges = models.CustomerMerge
    await session.execute(
        delete(merges).where(
            merges.survivor_id.in_([customer_id, *merged])
            | merges.merged_id.in_([customer_id, *merged])
        )
    )
    deleted: dict[str, int] = {}
    members = [*merged, customer_id]
    for member in members:
        for name, count in (await _erase_one(session, member)).items():
            deleted[name] = deleted.get(name, 0) + count
    return members, deleted


async def _erase_one(session: AsyncSession, customer_id: int) -> dict[str, int]:
    links = await session.execute(
        select(models.Identity.source, models.Identity.external_id).where(
            models.Identity.customer_id == customer_id
        )
    )
    upstream_ids: dict[str, list[str]] = {}
    for source, external_id in links:
        upstream_ids.setdefault(source, []).append(external_id)
    deleted = {
        "tracked_events.anonymous_id": await _anonymous_events(session, customer_id)
    }
    for source, ids in upstream_ids.items():
        deleted |= await forget_upstream_ids(session, source, ids)
    for name, column in NULLED.items():
        table = _table(name)
        await session.execute(
            update(table).where(table.c[column] == customer_id).values({column: None})
        )
    request = models.PrivacyRequest
    await session.execute(
        update(request).where(request.customer_id == customer_id).values(export=None)
    )
    for name in BY_CUSTOMER_ID:
        table = _table(name)
        key = table.c.id if name == "customers" else table.c.customer_id
        result = await session.execute(delete(table).where(key == customer_id))
        deleted[name] = result.rowcount or 0  # type: ignore[attr-defined]
    return deleted


async def erase_customer_locally(services: Services, request_id: int) -> None:
    """The request's local part: the customer's cached upstream values
    evicted while their links still say which (``Invalidator``), their rows
    deleted and the source recorded ``done`` in one transaction, then the
    change announced — the response cache stops serving what it holds of
    them, live timelines hear of it — and the stored answers, fragments and
    pages that may show them deleted. Nothing to do when done already."""
    async with services.sessions() as session:
        found = await pending_source(session, request_id, LOCAL)
    if found is None:
        return
    customer_id = found[0].customer_id
    if customer_id is not None and services.caches is not None:
        await Invalidator(services.sessions, services.caches).forget_customers(
            [customer_id]
        )
    members: list[int] = []
    deleted: dict[str, int] = {}
    async with services.sessions() as session, session.begin():
        if customer_id is not None:
            members, deleted = await erase_local(session, customer_id)
        await record(session, request_id, LOCAL, "done")
    log.info(
        "privacy request %d: %d local rows erased", request_id, sum(deleted.values())
    )
    # Every record of the person: a look-up by a merged record's id showed
    # its survivor, and was stored under the merged id.
    await services.changes.publish(
        *(CustomerChange(member, "crm", "customer_erased") for member in members)
    )
    if services.responses is not None and members:  # unreadable now: deleted too
        await services.responses.purge_customers(members)
