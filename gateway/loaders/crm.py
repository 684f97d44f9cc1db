"""Loaders of our own CRM tables: one SQL query per batch.

The statements every view runs (a customer by id, its addresses, tags,
consents, preferences, identities, loyalty balance) are built once, their ids
the bound parameter ``BATCH``: building a ``select`` and its cache key per
batch was a third of each statement's instructions (docs/benchmarks.md,
"Decoded values, statements built once…"). Each is built twice, for a batch
of one customer (a view's) and of several (``gateway.db.batches``)."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from aiodataloader import DataLoader
from sqlalchemy import (
    BigInteger,
    Boolean,
    Row,
    Select,
    String,
    func,
    literal,
    null,
    select,
    tuple_,
    type_coerce,
    union_all,
)

from gateway.db import models
from gateway.db.batches import among, bound
from gateway.db.customer_queries import (
    CustomerPageRequest,
    customer_count,
    customer_page,
)
from gateway.db.rows import AddressRow, ConsentRow, CustomerRow, TagRow
from gateway.db.shared_session import SharedSession
from gateway.identity.merge import resolved, with_survivors
from gateway.relay.pagination import Page

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

BATCH = "batch"
"""The bound parameter of a prebuilt statement: the batch's keys."""

SINGLE = (False, True)
"""A prebuilt statement's two forms: for several keys, for one."""


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
        """The statement's rows; ``keys`` for its ``BATCH``, when prebuilt."""
        params = None if keys is None else bound(BATCH, keys)
        async with self.sessions() as session:
            return list((await session.scalars(statement, params)).all())


class CustomerByIdLoader(SessionLoader):
    """A merged customer's id loads its survivor (links elsewhere keep working)."""

    statements = {
        single: select(*CustomerRow.columns()).where(
            among(models.Customer.id, BATCH, single)
        )
        for single in SINGLE
    }

    async def batch_load_fn(self, ids: Sequence[int]) -> list[CustomerRow | None]:
        statement = self.statements[len(ids) == 1]
        async with self.sessions() as session:
            connection = await session.connection()
            rows = [
                CustomerRow._make(row)
                for row in await connection.execute(statement, bound(BATCH, ids))
            ]

            async def read(wanted: set[int]) -> Iterable[CustomerRow]:
                found = await connection.execute(
                    self.statements[False], {BATCH: list(wanted)}
                )
                return map(CustomerRow._make, found)

            by_id = await resolved(rows, read)
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
        statements = {
            single: select(model)
            .where(among(model.customer_id, BATCH, single))
            .order_by(*order_by)
            for single in SINGLE
        }

        async def batch_load_fn(self, customer_ids: Sequence[int]) -> list[list[Any]]:
            statement = self.statements[len(customer_ids) == 1]
            rows = await self.scalars(statement, customer_ids)
            return grouped(rows, lambda r: r.customer_id, customer_ids)

    return ChildrenByCustomerLoader


IdentitiesByCustomerLoader = _children_loader(
    models.Identity, models.Identity.source, models.Identity.id
)
PreferencesByCustomerLoader = _children_loader(models.Preference, models.Preference.key)


ConsentsNowByCustomerLoader = _children_loader(
    models.Consent, models.Consent.channel, memoized=False
)
"""The consents that decide a ``CONSENTED`` value (``gateway.auth.pii``):
batched like the others (a page's customers are one statement) but never
memoized, so a withdrawal applies to the very next read — also on a WebSocket,
whose loaders live as long as its connection."""


class Profile(StrEnum):
    """What ``ProfileByCustomerLoader`` reads of a customer."""

    ADDRESSES = "addresses"
    """Its addresses, the default first, then by id."""
    TAGS = "tags"
    """Its tags, by name."""
    CONSENTS = "consents"
    """Its consents, by channel (as shown: ``ConsentsNowByCustomerLoader``
    decides a ``CONSENTED`` field)."""
    LOYALTY = "loyalty"
    """Its loyalty balance, the sum of its entries."""


ProfileKey = tuple[Profile, int]
"""(what, customer id)."""


class ProfileByCustomerLoader(SessionLoader):
    """Customers' addresses, tags, consents and loyalty balances: the kinds a
    batch asks for, of its customers, in one statement, built once per set of
    kinds (a ``UNION ALL`` of typed columns, ``_profile_statement``). A view
    asks for all four at once; a statement each cost ~1.1 M instructions on
    SQLite, its thread hops most of it (docs/benchmarks.md, "What would move
    the figures next")."""

    async def batch_load_fn(self, keys: Sequence[ProfileKey]) -> list[Any]:
        kinds = tuple(sorted({kind for kind, _ in keys}))
        ids = sorted({customer_id for _, customer_id in keys})
        found: dict[ProfileKey, list[Any]] = defaultdict(list)
        async with self.sessions() as session:
            connection = await session.connection()  # Core: as identity.links
            statement = _profile_statement(kinds, len(ids) == 1)
            rows = await connection.execute(statement, bound(BATCH, ids))
            for row in rows:
                kind = Profile(row[0])
                found[kind, row[1]].append(_PROFILE_ROWS[kind](row))
        return [
            sum(found[key]) if key[0] is Profile.LOYALTY else found[key] for key in keys
        ]


def _address(row: Row[Any]) -> AddressRow:
    return AddressRow(
        row.number,
        row.customer_id,
        row.t1,
        row.t2,
        row.t3,
        row.t4,
        row.t5,
        row.t6,
        row.t7,
        row.flag,
    )


def _tag(row: Row[Any]) -> TagRow:
    return TagRow(row.customer_id, row.t1, row.at)


def _consent(row: Row[Any]) -> ConsentRow:
    return ConsentRow(row.customer_id, row.t1, row.t2, row.t3, row.at)


def _points(row: Row[Any]) -> int:
    return int(row.number)


_PROFILE_ROWS: dict[Profile, Callable[[Row[Any]], Any]] = {
    Profile.ADDRESSES: _address,
    Profile.TAGS: _tag,
    Profile.CONSENTS: _consent,
    Profile.LOYALTY: _points,
}

_TEXTS = 7
"""Text columns of ``_profile_statement``: an address's seven."""


def _typed_null(type_: Any) -> Any:
    """A column no row of this kind has, typed for the rows that have it
    (a ``UNION``'s result columns take the first branch's types)."""
    return type_coerce(null(), type_)


def _profile_branch(
    kind: Profile,
    table: Any,
    order: Sequence[Any],
    *,
    number: Any = None,
    texts: Sequence[Any] = (),
    flag: Any = None,
    at: Any = None,
    grouped: bool = False,
    single: bool,
) -> Select[Any]:
    position = (
        literal(1)
        if grouped
        else func.row_number().over(partition_by=table.customer_id, order_by=order)
    )
    padded = [*texts, *[_typed_null(String()) for _ in range(_TEXTS - len(texts))]]
    columns = [
        literal(kind.value, String()).label("kind"),
        table.customer_id.label("customer_id"),
        position.label("position"),
        (number if number is not None else _typed_null(BigInteger())).label("number"),
        *(text.label(f"t{i}") for i, text in enumerate(padded, start=1)),
        (flag if flag is not None else _typed_null(Boolean())).label("flag"),
        (at if at is not None else _typed_null(models.UTCDateTime())).label("at"),
    ]
    statement = select(*columns).where(among(table.customer_id, BATCH, single))
    return statement.group_by(table.customer_id) if grouped else statement


def _profile_branches(single: bool) -> dict[Profile, Select[Any]]:
    a, t, c, points = models.Address, models.Tag, models.Consent, models.LoyaltyEntry
    return {
        Profile.ADDRESSES: _profile_branch(
            Profile.ADDRESSES,
            a,
            (a.is_default.desc(), a.id),
            number=a.id,
            texts=(a.kind, a.line1, a.line2, a.city, a.region, a.postcode, a.country),
            flag=a.is_default,
            single=single,
        ),
        Profile.TAGS: _profile_branch(
            Profile.TAGS, t, (t.name,), texts=(t.name,), at=t.created_at, single=single
        ),
        Profile.CONSENTS: _profile_branch(
            Profile.CONSENTS,
            c,
            (c.channel,),
            texts=(c.channel, c.state, c.source),
            at=c.changed_at,
            single=single,
        ),
        Profile.LOYALTY: _profile_branch(
            Profile.LOYALTY,
            points,
            (),
            number=func.coalesce(func.sum(points.points), 0),
            grouped=True,
            single=single,
        ),
    }


@functools.lru_cache(maxsize=32)
def _profile_statement(kinds: tuple[Profile, ...], single: bool) -> Any:
    """The rows of ``kinds`` for the customers of ``BATCH`` (one when
    ``single``), each kind's in its own order (``position``, numbered by the
    database, so its collation orders the names); built once per set of kinds."""
    branches = _profile_branches(single)
    chosen = [branches[kind] for kind in kinds]
    union = union_all(*chosen).subquery()
    return select(union).order_by(union.c.kind, union.c.customer_id, union.c.position)


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
    IdentitiesByCustomerLoader,
    PreferencesByCustomerLoader,
)
