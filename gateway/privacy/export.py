"""A customer's data as one JSON document: everything we hold about them and
everything each linked upstream holds, with where each part came from.

::

    {"request": 12, "generatedAt": "…", "customerId": 42,
     "local": {"customers": [{…}], "notes": [...], …},   our tables, by name
     "derived": {"customer_traits": [...], "customer_rfm": [...],
                 "segment_members": [...]},                computed by us
     "sources": {"shopify": {"status": "done", "externalIds": ["gid://…"],
                             "fetchedAt": "…", "customers": [{…}], "orders": [...]},
                 "zendesk": {"status": "not_linked"}, …},
     "audit": [{"at", "subject", "role", "action", "operation", "fields"}]}

``local`` has a key per table of ``erasure.BY_CUSTOMER_ID`` and
``BY_UPSTREAM_ID`` (what an erasure deletes is what an export shows), the
derived tables moved to ``derived``; ``audit`` is who read or changed the
customer. An upstream that fails is ``{"status": "failed", "error": code}``
in the document, the source ``failed`` in the request, and the job raises so
that the engine builds the document again later.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.errors import ConnectorError
from gateway.db import models
from gateway.db.auth_models import AuditEntry
from gateway.db.models import utcnow
from gateway.privacy.erasure import BY_CUSTOMER_ID, BY_UPSTREAM_ID, anonymous_events
from gateway.privacy.requests import (
    LOCAL,
    UPSTREAMS,
    links_of,
    pending_source,
    record,
)
from gateway.runtime.services import Services

DERIVED = ("customer_traits", "customer_rfm", "segment_members")
ACTIVITY_DAYS = 3650
"""PostHog events read for an export: every one PostHog keeps."""
ACTIVITY_LIMIT = 1000


class ExportIncomplete(Exception):
    """A source failed; the document is built again later."""


def plain(value: object) -> Any:
    """``value`` as JSON: dataclasses as objects, times ISO 8601, money as
    strings, enums by value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)
        }
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return plain(value.value)
    return value


async def _local(session: AsyncSession, customer_id: int) -> dict[str, Any]:
    links = list(
        await session.execute(
            select(models.Identity.source, models.Identity.external_id).where(
                models.Identity.customer_id == customer_id
            )
        )
    )
    tables: dict[str, Any] = {}
    metadata = models.Base.metadata.tables
    merged = select(models.Customer.id).where(
        models.Customer.merged_into == customer_id
    )
    for name in BY_CUSTOMER_ID:
        table = metadata[name]
        key = table.c.id if name == "customers" else table.c.customer_id
        rows = await session.execute(
            select(table).where((key == customer_id) | key.in_(merged))
        )
        tables[name] = [_row(r) for r in rows]
    for name, source, column in BY_UPSTREAM_ID:
        ids = [ext for src, ext in links if src == source]
        table = metadata[name]
        rows = await session.execute(select(table).where(table.c[column].in_(ids)))
        found = tables.setdefault(name, [])
        found += [row for row in map(_row, rows) if row not in found]
    orphans = await session.execute(
        select(models.TrackedEvent.__table__).where(anonymous_events(customer_id))
    )
    tables["tracked_events"] += [_row(r) for r in orphans]
    return tables


def _row(row: Any) -> dict[str, Any]:
    exported: dict[str, Any] = plain(dict(row._mapping))
    return exported


async def _audit(session: AsyncSession, customer_id: int) -> list[dict[str, Any]]:
    """Who read or changed the customer, since the customer was created (on
    SQLite an erased customer's id may be the next one's: their entries are
    older than the new customer)."""
    created = select(models.Customer.created_at).where(
        models.Customer.id == customer_id
    )
    rows = await session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.customer_id == customer_id,
            AuditEntry.at >= created.scalar_subquery(),
        )
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    return [
        {
            "at": r.at.isoformat(),
            "subject": r.subject,
            "role": r.role,
            "action": r.action,
            "operation": r.operation,
            "fields": list(r.fields),
        }
        for r in rows
    ]


async def _fetch(services: Services, source: str, ids: list[str]) -> dict[str, Any]:
    """What ``source`` holds of the person under ``ids``, as canonical
    models: its records (``customers``, one per id, null for one it no
    longer holds) and what they own."""
    upstreams = services.upstreams
    if source == "shopify" and upstreams.shopify is not None:
        shopify = upstreams.shopify
        orders = await shopify.orders_by_customers(ids)
        return {
            "customers": plain(await shopify.customers_by_ids(ids)),
            "orders": plain([o for i in ids for o in orders.get(i, [])]),
        }
    if source == "zendesk" and upstreams.zendesk is not None:
        zendesk = upstreams.zendesk
        tickets = await zendesk.tickets_by_requesters(ids)
        return {
            "customers": plain(await zendesk.customers_by_ids(ids)),
            "tickets": plain([t for i in ids for t in tickets.get(i, [])]),
        }
    if source == "posthog" and upstreams.posthog is not None:
        posthog = upstreams.posthog
        activity = await posthog.activity_by_persons(
            ids, limit=ACTIVITY_LIMIT, days=ACTIVITY_DAYS
        )
        return {
            "customers": plain(await posthog.customers_by_ids(ids)),
            "events": plain(
                [e for i in ids if i in activity for e in activity[i].events]
            ),
        }
    raise _NotConfigured(source)


class _NotConfigured(ConnectorError):
    code = "NOT_CONFIGURED"


async def build_export(services: Services, request_id: int) -> None:
    """Build and store the request's document, recording each source."""
    async with services.sessions() as session:
        found = await pending_source(session, request_id, LOCAL)
        if found is None or found[0].customer_id is None:
            return
        customer_id = found[0].customer_id
        local = await _local(session, customer_id)
        audit = await _audit(session, customer_id)
        links = await links_of(session, customer_id)
    sources: dict[str, Any] = {}
    for source in UPSTREAMS:
        ids = links.get(source)
        if not ids:
            sources[source] = {"status": "not_linked"}
            continue
        entry: dict[str, Any] = {"externalIds": ids}
        try:
            entry |= await _fetch(services, source, ids)
        except ConnectorError as exc:
            entry |= {"status": "failed", "error": exc.code}
        else:
            entry |= {"status": "done", "fetchedAt": utcnow().isoformat()}
        sources[source] = entry
    document = {
        "request": request_id,
        "generatedAt": utcnow().isoformat(),
        "customerId": customer_id,
        "local": {k: v for k, v in local.items() if k not in DERIVED},
        "derived": {k: local[k] for k in DERIVED},
        "sources": sources,
        "audit": audit,
    }
    failed = [s for s, e in sources.items() if e["status"] == "failed"]
    async with services.sessions() as session, session.begin():
        request = await session.get(models.PrivacyRequest, request_id)
        assert request is not None
        erased = await session.get(models.Customer, customer_id) is None
        request.export = None if erased else document  # erased meanwhile: none
        for source, entry in sources.items():
            await record(
                session, request_id, source, entry["status"], entry.get("error")
            )
        await record(session, request_id, LOCAL, "failed" if failed else "done")
    if failed:
        raise ExportIncomplete(", ".join(failed))
