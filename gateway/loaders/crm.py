"""Loaders of our own CRM tables: one SQL query per batch.

The statements every view runs (a customer by id, its addresses, tags,
consents, preferences, identities, loyalty balance) are built once, their ids
an expanding bound parameter (``BATCH``): building a ``select`` and its cache
key per batch was a third of each statement's instructions
(docs/benchmarks.md, "Decoded values, statements built once…")."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from aiodataloader import DataLoader
from sqlalchemy import Select, bindparam, func, select, tuple_

from gateway.db import models
from gateway.db.customer_queries import (
    CustomerPageRequest,
    customer_count,
    customer_page,
)
from gateway.db.shared_session import SharedSession
from gateway.identity.merge import with_survivors
from gateway.relay.pagination import Page

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

BATCH = "batch"
"""The bound parameter of a prebuilt statement: the batch's keys."""


def batch() -> Any:
    """The batch's keys in a prebuilt statement (``IN``, expanded per run)."""
    return bindparam(BATCH, expanding=True)


def grouped(
    rows: Iterable[V], key: Callable[[V], K], keys: Sequence[K]
) -> list[list[V]]:
    by_key: dict[K, list[V]] = defaultdict(list)
    for row in rows:
        by_key[key(row)].append(row)
    return [by_key.get(k, []) for k in keys]


class SessionLoader(DataLoader[Any, Any]):
    """A DataLoader reading in its request's ``SharedSession``: batches that
    run at the same time share one session."""

    def __init__(self, sessions: SharedSession) -> None:
        super().__init__()
        self.sessions = sessions

    async def scalars(
        self, statement: Select[Any], keys: Sequence[Any] | None = None
    ) -> list[Any]:
        """The statement's rows; ``keys`` for its ``batch()``, when prebuilt."""
        params = None if keys is None else {BATCH: list(keys)}
        async with self.sessions() as session:
            return list((await session.scalars(statement, params)).all())


class CustomerByIdLoader(SessionLoader):
    """A merged customer's id loads its survivor (links elsewhere keep working)."""

    statement = select(models.Customer).where(models.Customer.id.in_(batch()))

    async def batch_load_fn(self, ids: Sequence[int]) -> list[models.Customer | None]:
        async with self.sessions() as session:
            rows = list(await session.scalars(self.statement, {BATCH: list(ids)}))
            by_id = await with_survivors(session, rows)
        return [by_id.get(i) for i in ids]


class CustomerCreatedLoader(SessionLoader):
    """When each customer was created, by its own id (a merged one's too):
    what ties an embed token to its customer."""

    async def batch_load_fn(self, ids: Sequence[int]) -> list[datetime | None]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(models.Customer.id, models.Customer.created_at).where(
                    models.Customer.id.in_(ids)
                )
            )
            found = {pk: created for pk, created in rows}
        return [found.get(i) for i in ids]


class CustomerByEmailLoader(SessionLoader):
    """A merged customer's email loads its survivor."""

    async def batch_load_fn(
        self, emails: Sequence[str]
    ) -> list[models.Customer | None]:
        async with self.sessions() as session:
            rows = list(
                await session.scalars(
                    select(models.Customer).where(models.Customer.email.in_(emails))
                )
            )
            resolved = await with_survivors(session, rows)
        by_email = {row.email: resolved[row.id] for row in rows}
        return [by_email.get(e) for e in emails]


class CustomerPageLoader(SessionLoader):
    """Pages of the customer list; identical page requests in one query share a read."""

    async def batch_load_fn(
        self, requests: Sequence[CustomerPageRequest]
    ) -> list[Page[models.Customer]]:
        async with self.sessions() as session:
            return [await customer_page(session, request) for request in requests]


class CustomerCountLoader(SessionLoader):
    async def batch_load_fn(self, requests: Sequence[CustomerPageRequest]) -> list[int]:
        async with self.sessions() as session:
            return [await customer_count(session, request) for request in requests]


class NoteByIdLoader(SessionLoader):
    async def batch_load_fn(self, ids: Sequence[int]) -> list[models.Note | None]:
        rows = await self.scalars(select(models.Note).where(models.Note.id.in_(ids)))
        by_id = {row.id: row for row in rows}
        return [by_id.get(i) for i in ids]


def _children_loader(
    model: Any, *order_by: Any, memoized: bool = True
) -> type[SessionLoader]:
    class ChildrenByCustomerLoader(SessionLoader):
        cache = memoized
        statement = (
            select(model).where(model.customer_id.in_(batch())).order_by(*order_by)
        )

        async def batch_load_fn(self, customer_ids: Sequence[int]) -> list[list[Any]]:
            rows = await self.scalars(self.statement, customer_ids)
            return grouped(rows, lambda r: r.customer_id, customer_ids)

    return ChildrenByCustomerLoader


AddressesByCustomerLoader = _children_loader(
    models.Address, models.Address.is_default.desc(), models.Address.id
)
IdentitiesByCustomerLoader = _children_loader(
    models.Identity, models.Identity.source, models.Identity.id
)
TagsByCustomerLoader = _children_loader(models.Tag, models.Tag.name)
ConsentsByCustomerLoader = _children_loader(models.Consent, models.Consent.channel)
PreferencesByCustomerLoader = _children_loader(models.Preference, models.Preference.key)


ConsentsNowByCustomerLoader = _children_loader(
    models.Consent, models.Consent.channel, memoized=False
)
"""The consents that decide a ``CONSENTED`` value (``gateway.auth.pii``):
batched like the others (a page's customers are one statement) but never
memoized, so a withdrawal applies to the very next read — also on a WebSocket,
whose loaders live as long as its connection."""


class LoyaltyBalanceByCustomerLoader(SessionLoader):
    statement = (
        select(
            models.LoyaltyEntry.customer_id,
            func.coalesce(func.sum(models.LoyaltyEntry.points), 0),
        )
        .where(models.LoyaltyEntry.customer_id.in_(batch()))
        .group_by(models.LoyaltyEntry.customer_id)
    )

    async def batch_load_fn(self, customer_ids: Sequence[int]) -> list[int]:
        async with self.sessions() as session:
            rows = await session.execute(self.statement, {BATCH: list(customer_ids)})
            balances = {cid: int(total) for cid, total in rows}
        return [balances.get(cid, 0) for cid in customer_ids]


@dataclass(frozen=True, slots=True)
class NotesPageKey:
    customer_id: int
    first: int
    after: tuple[Any, int] | None = None


class NotesPageByCustomerLoader(SessionLoader):
    """Newest notes first; one windowed query per distinct (first, after)."""

    async def batch_load_fn(
        self, keys: Sequence[NotesPageKey]
    ) -> list[Page[models.Note]]:
        pages: dict[NotesPageKey, Page[models.Note]] = {}
        windows: dict[tuple[int, Any], list[int]] = defaultdict(list)
        for key in keys:
            windows[(key.first, key.after)].append(key.customer_id)
        for (first, after), customer_ids in windows.items():
            note = models.Note
            rank = (
                func.row_number()
                .over(
                    partition_by=note.customer_id,
                    order_by=(note.created_at.desc(), note.id.desc()),
                )
                .label("rank")
            )
            inner = select(note.id, rank).where(note.customer_id.in_(customer_ids))
            if after is not None:
                inner = inner.where(tuple_(note.created_at, note.id) < tuple_(*after))
            ranked = inner.subquery()
            statement = (
                select(note)
                .join(ranked, ranked.c.id == note.id)
                .where(ranked.c.rank <= first + 1)
                .order_by(note.customer_id, note.created_at.desc(), note.id.desc())
            )
            rows = await self.scalars(statement)
            for customer_id, group in zip(
                customer_ids,
                grouped(rows, lambda r: r.customer_id, customer_ids),
                strict=True,
            ):
                pages[NotesPageKey(customer_id, first, after)] = Page.from_rows(
                    group, first
                )
        return [pages[key] for key in keys]


BY_CUSTOMER_ID = (
    CustomerByIdLoader,
    AddressesByCustomerLoader,
    IdentitiesByCustomerLoader,
    TagsByCustomerLoader,
    ConsentsByCustomerLoader,
    PreferencesByCustomerLoader,
    LoyaltyBalanceByCustomerLoader,
)
