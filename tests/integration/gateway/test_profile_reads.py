"""``ProfileByCustomerLoader``: a customer's addresses, tags, consents and
loyalty balance read in one statement are what a statement per table reads,
in the same order (the database's collation orders the tags), for any set
of kinds asked together — a customer with none of them included."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from connectors.demo_world import World
from gateway.db import models
from gateway.demo.seed import seed
from gateway.loaders import Loaders, Profile
from gateway.runtime.services import Services
from tests.conftest import StatementCounter

TAGS = ["vip", "Beta", "alpha", "Zeta", "élan", "_first", "10", "9"]
"""Cases and accents that a byte order and a locale's order sort apart."""


async def with_profiles(db: Services) -> list[int]:
    """Seeded customers, the first with every tag above, a second default
    address after a first, loyalty entries that cancel out (the second); the last with
    nothing at all. Their ids."""
    await seed(db.sessions, World(seed=3, size=12))
    async with db.sessions() as session, session.begin():
        ids = list(await session.scalars(select(models.Customer.id).order_by("id")))
        first = ids[0]
        session.add_all(models.Tag(customer_id=first, name=t) for t in TAGS)
        session.add(
            models.Address(
                customer_id=first,
                kind="billing",
                line1="2 Side St",
                city="Lyon",
                country="FR",
                is_default=True,
            )
        )
        session.add_all(
            models.LoyaltyEntry(customer_id=ids[1], points=p, reason="r")
            for p in (40, -40)
        )
        bare = models.Customer(email="bare@example.com")
        session.add(bare)
        await session.flush()
        ids.append(bare.id)
    return ids


def fields(row: Any, names: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(getattr(row, n) for n in names)


ADDRESS = ("id", "customer_id", "kind", "line1", "line2", "city", "region")
ADDRESS += ("postcode", "country", "is_default")
TAG = ("customer_id", "name", "created_at")
CONSENT = ("customer_id", "channel", "state", "source", "changed_at")


async def one_per_table(db: Services, ids: list[int]) -> dict[Profile, list[Any]]:
    """What a statement per table reads, in the orders the view shows."""
    a, t, c, entry = models.Address, models.Tag, models.Consent, models.LoyaltyEntry
    async with db.sessions() as session:

        async def rows(model: Any, *order: Any) -> list[Any]:
            found = await session.scalars(
                select(model).where(model.customer_id.in_(ids)).order_by(*order)
            )
            return list(found)

        addresses = await rows(a, a.is_default.desc(), a.id)
        tags = await rows(t, t.name)
        consents = await rows(c, c.channel)
        sums = dict(
            (
                await session.execute(
                    select(entry.customer_id, func.sum(entry.points))
                    .where(entry.customer_id.in_(ids))
                    .group_by(entry.customer_id)
                )
            ).all()
        )
    return {
        Profile.ADDRESSES: [
            [fields(r, ADDRESS) for r in addresses if r.customer_id == i] for i in ids
        ],
        Profile.TAGS: [
            [fields(r, TAG) for r in tags if r.customer_id == i] for i in ids
        ],
        Profile.CONSENTS: [
            [fields(r, CONSENT) for r in consents if r.customer_id == i] for i in ids
        ],
        Profile.LOYALTY: [int(sums.get(i) or 0) for i in ids],
    }


def shown(kind: Profile, value: Any) -> Any:
    names = {Profile.ADDRESSES: ADDRESS, Profile.TAGS: TAG, Profile.CONSENTS: CONSENT}
    if kind is Profile.LOYALTY:
        return value
    return [fields(row, names[kind]) for row in value]


KIND_SETS = [
    tuple(Profile),
    (Profile.TAGS,),
    (Profile.LOYALTY,),
    (Profile.ADDRESSES, Profile.CONSENTS),
]


async def test_one_statement_reads_what_a_statement_per_table_reads(
    db: Services, sql: StatementCounter
) -> None:
    ids = await with_profiles(db)
    expected = await one_per_table(db, ids)
    assert expected[Profile.TAGS][0], "the first customer has tags"
    assert expected[Profile.ADDRESSES][-1] == []
    assert expected[Profile.LOYALTY][-1] == 0
    for kinds in KIND_SETS:
        loader = Loaders(db).profile_by_customer
        sql.reset()
        # asked in one turn, as a view's fields ask
        read = await asyncio.gather(
            *(loader.load((kind, i)) for kind in kinds for i in ids)
        )
        assert len(sql.statements) == 1, kinds
        got = iter(read)
        for kind in kinds:
            assert [shown(kind, next(got)) for _ in ids] == expected[kind], kind


PREBUILT = {
    "customer_by_id": lambda row: (row.id, row.email, row.merged_into),
    "identities_by_customer": lambda rows: [(r.source, r.external_id) for r in rows],
    "preferences_by_customer": lambda rows: [(r.key, r.value) for r in rows],
    "consents_now_by_customer": lambda rows: [(r.channel, r.state) for r in rows],
}
"""Loaders of a statement built in its two forms (``gateway.db.batches``),
and what to compare of what each loads."""


async def test_a_customer_read_alone_reads_what_a_batch_reads_of_it(
    db: Services, sql: StatementCounter
) -> None:
    """A batch of one runs the ``=`` form of each prebuilt statement, a batch
    of several the ``IN`` form: the same rows for each customer."""
    ids = await with_profiles(db)
    async with db.sessions() as session, session.begin():
        session.add(models.Preference(customer_id=ids[0], key="k", value="v"))
        session.add(
            models.Identity(customer_id=ids[0], source="zendesk", external_id="9")
        )
    for name, compared in PREBUILT.items():
        together = await getattr(Loaders(db), name).load_many(ids)
        alone = [await getattr(Loaders(db), name).load(i) for i in ids]
        assert [compared(v) for v in alone] == [compared(v) for v in together], name
    keys = [(kind, i) for kind in Profile for i in ids]
    together = await Loaders(db).profile_by_customer.load_many(keys)
    sql.reset()
    alone = [await Loaders(db).profile_by_customer.load(key) for key in keys]
    assert len(sql.statements) == len(keys)
    assert all(" IN " not in s for s in sql.statements)
    assert [shown(k, v) for (k, _), v in zip(keys, alone, strict=True)] == [
        shown(k, v) for (k, _), v in zip(keys, together, strict=True)
    ]
