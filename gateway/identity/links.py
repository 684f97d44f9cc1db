"""Identity linking: which upstream record is which of our customers.

A link lives in ``identities`` (source, external id). When a customer has none
for a source, we look the customer up upstream by each strong rule of
``MatchRules`` in order — normalized email, E.164 phone — one batched call per
rule for all unlinked customers, and store what we find with its
``Explanation``, so the next read needs no look-up at all. A look-up
that finds nothing is remembered too (``identity_checks``), so it is not
repeated for every page until it is old or the customer changes.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    case,
    delete,
    false,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.base import Connector
from connectors.models import ExternalCustomer
from gateway.db import models
from gateway.db.batches import among, bound
from gateway.db.upsert import dialect_insert
from gateway.identity.rules import Explanation, MatchRule, MatchRules, explain

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class Mark:
    """Something to know of a source's linked records, read with their links
    in the same statement: a condition on the record's external id, and the
    values of its bound parameters when read (a condition holds no value
    that changes, so the statement is built once: ``_links_statement``)."""

    condition: Callable[[SQLColumnExpression[str]], ColumnElement[bool]]
    parameters: Callable[[], Mapping[str, Any]]


class StoredLinks(NamedTuple):
    """What ``stored_links`` found."""

    links: dict[tuple[str, int], str]
    """(source, customer id) → its links, ``split_links``."""
    unknown: set[tuple[str, int]]
    """Pairs looked up recently without a match."""
    marked: dict[tuple[str, str], bool]
    """(source, external id) → whether the source's ``Mark`` holds for the
    link, for every link read of a source with a mark."""


async def linked_ids(
    sessions: Sessions, source: str, customer_ids: Sequence[int]
) -> dict[int, str]:
    """Existing links of ``source`` for these customers (customer id → external id)."""
    async with sessions() as session:
        links, _ = await _links(session, [source], customer_ids)
    return {customer_id: external for (_, customer_id), external in links.items()}


async def stored_links(
    sessions: Callable[[], AbstractAsyncContextManager[AsyncSession]],
    wanted: Collection[tuple[str, int]],
    checked_since: datetime,
    marks: Mapping[str, Mark] | None = None,
) -> StoredLinks:
    """What the database knows of ``wanted`` (source, customer id) pairs, in
    one session: their links (each customer's every link to the source,
    ``split_links``), which of the rest were looked up after
    ``checked_since`` without a match, and which links their source's
    ``marks`` hold for (read in the links' statement)."""
    sources = sorted({source for source, _ in wanted})
    customer_ids = sorted({customer_id for _, customer_id in wanted})
    async with sessions() as session:
        links, marked = await _links(
            session, sources, customer_ids, every=True, marks=marks
        )
        unlinked = [pair for pair in wanted if pair not in links]
        if not unlinked:
            return StoredLinks(links, set(), marked)
        check = models.IdentityCheck
        rows = await session.execute(
            select(check.source, check.customer_id).where(
                check.source.in_({source for source, _ in unlinked}),
                check.customer_id.in_({customer_id for _, customer_id in unlinked}),
                check.checked_at > checked_since,
            )
        )
        return StoredLinks(links, {(source, cid) for source, cid in rows}, marked)


async def _links(
    session: AsyncSession,
    sources: Sequence[str],
    customer_ids: Sequence[int],
    *,
    every: bool = False,
    marks: Mapping[str, Mark] | None = None,
) -> tuple[dict[tuple[str, int], str], dict[tuple[str, str], bool]]:
    """(source, customer) → its external id: the oldest link, or with
    ``every`` all of them, oldest first, joined by ``SEPARATOR`` (a merged
    customer's survivor has the links of each record merged into it); and
    whether ``marks`` hold, by (source, external id), for the links of a
    source with a mark."""
    marks_of = tuple((s, mark) for s, mark in (marks or {}).items() if s in sources)
    parameters: dict[str, Any] = bound(_CUSTOMERS, customer_ids)
    for _, mark in marks_of:
        parameters.update(mark.parameters())
    # on the session's connection: a Core statement needs none of the ORM's
    # execution (autoflush, compile state, result set-up; with the profile's
    # statement, 0.3 M instructions of an executed 360 view's 28.5 M), and the
    # sessions that read links write nothing to flush
    connection = await session.connection()
    statement = _links_statement(tuple(sources), marks_of, len(customer_ids) == 1)
    rows = await connection.execute(statement, parameters)
    found: dict[tuple[str, int], list[str]] = {}
    marked: dict[tuple[str, str], bool] = {}
    sources_marked = {source for source, _ in marks_of}
    for row in rows:
        source, customer_id, external = row[0], row[1], row[2]
        found.setdefault((source, customer_id), []).append(external)
        if source in sources_marked:
            marked[source, external] = bool(row[3])
    links = {
        pair: SEPARATOR.join(ids) if every else ids[0] for pair, ids in found.items()
    }
    return links, marked


_CUSTOMERS = "customer_ids"


@functools.lru_cache(maxsize=64)
def _links_statement(
    sources: tuple[str, ...], marks: tuple[tuple[str, Mark], ...], single: bool
) -> Select[Any]:
    """The links of ``sources`` for the customers of the bound parameter
    ``_CUSTOMERS`` (one when ``single``: ``gateway.db.batches``), oldest
    first, and whether each source's mark holds: built once per set of
    sources and marks (building it per read was ~2 M instructions of an
    executed 360 view's 40 M)."""
    identity = models.Identity
    columns: list[SQLColumnExpression[Any]] = [
        identity.source,
        identity.customer_id,
        identity.external_id,
    ]
    conditions = [
        (identity.source == source, mark.condition(identity.external_id))
        for source, mark in marks
    ]
    if conditions:
        columns.append(case(*conditions, else_=false()))
    return (
        select(*columns)
        .where(
            identity.source.in_(sources),
            among(identity.customer_id, _CUSTOMERS, single),
        )
        .order_by(identity.id)
    )


SEPARATOR = "\n"
"""Between a customer's links to one source in ``stored_links`` (and the
links cache): no upstream id holds a line break (``gateway.db.column_limits``
refuses control characters)."""


def split_links(value: str) -> list[str]:
    """The external ids ``stored_links`` joined, oldest link first."""
    return value.split(SEPARATOR) if value else []


async def forget_checks(session: AsyncSession, customer_ids: Collection[int]) -> None:
    """Look the customers up again next time (their contact details may have
    changed, or they may have appeared upstream); in the caller's transaction."""
    await session.execute(
        delete(models.IdentityCheck).where(
            models.IdentityCheck.customer_id.in_(customer_ids)
        )
    )


async def _store_checks(
    sessions: Sessions, source: str, customer_ids: Sequence[int]
) -> None:
    if not customer_ids:
        return
    now = models.utcnow()
    rows = [
        {"customer_id": c, "source": source, "checked_at": now} for c in customer_ids
    ]
    async with sessions() as session, session.begin():
        statement = dialect_insert(session, models.IdentityCheck)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["customer_id", "source"],
                set_={"checked_at": statement.excluded.checked_at},
            ),
            rows,
        )


async def store_links(
    sessions: Sessions,
    source: str,
    links: dict[int, str],
    explanations: dict[int, Explanation],
) -> None:
    """Insert links, leaving any existing link of that external id untouched."""
    if not links:
        return
    rows = [
        {
            "customer_id": cid,
            "source": source,
            "external_id": ext,
            "linked_by": explanations[cid].rule,
            "explanation": explanations[cid].to_json(),
        }
        for cid, ext in links.items()
    ]
    async with sessions() as session, session.begin():
        statement = dialect_insert(session, models.Identity).on_conflict_do_nothing(
            index_elements=["source", "external_id"]
        )
        await session.execute(statement, rows)


async def resolve_links(
    sessions: Sessions,
    connector: Connector,
    customers: Sequence[models.Customer],
    rules: MatchRules,
) -> dict[int, str]:
    """External ids of ``customers`` in ``connector``'s system, linking the
    unlinked by the strong ``rules``. Customers found nowhere are absent."""
    links = await linked_ids(sessions, connector.name, [c.id for c in customers])
    unlinked = [c for c in customers if c.id not in links]
    if unlinked:
        links.update(await link_by_contact(sessions, connector, unlinked, rules))
    return links


async def link_by_contact(
    sessions: Sessions,
    connector: Connector,
    unlinked: Sequence[models.Customer],
    rules: MatchRules,
) -> dict[int, str]:
    """Look ``unlinked`` customers up upstream by each strong contact rule in
    the rules' order (email, phone) and store the links found, each with its
    explanation: at most one batched upstream call per rule."""
    source = connector.name
    links: dict[int, str] = {}
    for rule, _ in rules.order:
        if not rules.links(rule) or rule not in _LOOK_UPS:
            continue
        value_of, look_up = _LOOK_UPS[rule]
        wanted = [c for c in unlinked if c.id not in links and value_of(c)]
        if not wanted:
            continue
        found = await look_up(connector, [value_of(c) or "" for c in wanted])
        matched: dict[int, str] = {}
        explanations: dict[int, Explanation] = {}
        for customer in wanted:
            ours = value_of(customer) or ""
            profile = found.get(ours)
            if profile is not None:
                matched[customer.id] = profile.external_id
                explanations[customer.id] = explain(rule, source, ours)
        await store_links(sessions, source, matched, explanations)
        links.update(matched)
    await _store_checks(sessions, source, [c.id for c in unlinked if c.id not in links])
    return links


LookUp = Callable[[Connector, list[str]], Awaitable[dict[str, ExternalCustomer]]]

_LOOK_UPS: dict[MatchRule, tuple[Callable[[models.Customer], str | None], LookUp]] = {
    MatchRule.EMAIL: (lambda c: c.email, lambda up, v: up.customers_by_emails(v)),
    MatchRule.PHONE: (lambda c: c.phone, lambda up, v: up.customers_by_phones(v)),
}
"""The rules an upstream can be searched by: the customer's value, the batched
search (upstreams answer by normalized value)."""
