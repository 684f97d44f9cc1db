"""Identify → customers: find, create or update the customer of each identify
message, with its preferences and default shipping address.

Statements per request, whatever the number of identify messages: one SELECT
of the candidate customers, one INSERT … RETURNING for the new ones (Core, so
SQLite does not fall back to a row at a time), UPDATEs of the changed ones, one
preferences upsert, one SELECT and at most one INSERT for addresses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, insert, or_, select
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Address, Base, Customer, Preference
from gateway.ingest.messages import Message
from gateway.ingest.traits import AddressTraits, Profile, read_traits

_NEW_CUSTOMER_COLUMNS = ("email", "phone", "first_name", "last_name", "birth_date")


@dataclass(frozen=True, slots=True)
class TraitWarning:
    position: int
    """Index of the message in the list given to ``store_messages``."""
    field: str
    reason: str


@dataclass(slots=True)
class Identified:
    customers: dict[int, int] = field(default_factory=dict)
    """Message position → customer id."""
    new_links: dict[str, int] = field(default_factory=dict)
    """userId → customer id, for userIds not linked before."""


def table_of(model: type[Base]) -> Table:
    """The model's Core table: Core INSERTs keep every key of every row (the ORM's
    bulk INSERT splits rows by their non-null keys) and batch on SQLite too."""
    return Base.metadata.tables[model.__tablename__]


def dialect_insert(session: AsyncSession, model: type[Base]) -> PgInsert | SqliteInsert:
    """The dialect's INSERT, which has ON CONFLICT on both backends we run on."""
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table_of(model))


async def identify_customers(
    session: AsyncSession,
    identifies: Sequence[tuple[int, Message]],
    links: dict[str, int],
    warnings: list[TraitWarning],
) -> Identified:
    """Apply ``identifies`` in message order.

    A customer is found by the userId's link, then by ``traits.email``, and
    created when neither finds one and an email is given. New customers are
    transient ``Customer`` objects until the single INSERT gives them ids.
    """
    if not identifies:
        return Identified()
    profiles = [(pos, m, read_traits(m.properties)) for pos, m in identifies]
    ids = {links[m.user_id] for _, m, _ in profiles if m.user_id in links}
    emails = {p.email for _, _, p in profiles if p.email}
    loaded = await session.scalars(
        select(Customer).where(or_(Customer.id.in_(ids), Customer.email.in_(emails)))
    )
    by_id = {c.id: c for c in loaded}
    by_email = {c.email: c for c in by_id.values()}
    created: list[Customer] = []
    pending: dict[str, Customer] = {}
    resolved: dict[int, Customer] = {}
    preferences: dict[Customer, dict[str, str]] = {}
    addresses: dict[Customer, AddressTraits] = {}
    for position, message, profile in profiles:
        warnings.extend(TraitWarning(position, f, r) for f, r in profile.warnings)
        customer = None
        if message.user_id:
            linked = links.get(message.user_id)
            customer = by_id.get(linked) if linked else pending.get(message.user_id)
        if customer is None and profile.email:
            customer = by_email.get(profile.email)
        if customer is None:
            if profile.email is None:
                warnings.append(
                    TraitWarning(
                        position,
                        "traits.email",
                        "unknown user: send traits.email to create the customer",
                    )
                )
                continue
            customer = Customer(email=profile.email)
            created.append(customer)
            by_email[profile.email] = customer
        else:
            _change_email(customer, profile, by_email, position, warnings)
        for attribute, value in profile.fields.items():
            setattr(customer, attribute, value)
        if message.user_id and message.user_id not in links:
            pending.setdefault(message.user_id, customer)
        preferences.setdefault(customer, {}).update(profile.preferences)
        if profile.address is not None:
            addresses[customer] = profile.address
        resolved[position] = customer
    await session.flush()
    await _insert_customers(session, created)
    await _store_preferences(session, preferences)
    await _store_addresses(session, {c.id: a for c, a in addresses.items()})
    return Identified(
        customers={position: c.id for position, c in resolved.items()},
        new_links={user_id: c.id for user_id, c in pending.items()},
    )


def _change_email(
    customer: Customer,
    profile: Profile,
    by_email: dict[str, Customer],
    position: int,
    warnings: list[TraitWarning],
) -> None:
    """Take the new email unless another customer has it (unique email)."""
    if not profile.email or profile.email == customer.email:
        return
    owner = by_email.get(profile.email)
    if owner is None:
        by_email.pop(customer.email, None)
        customer.email = profile.email
        by_email[profile.email] = customer
    else:
        warnings.append(
            TraitWarning(
                position,
                "traits.email",
                "this email belongs to another customer; email not changed",
            )
        )


async def _insert_customers(session: AsyncSession, created: list[Customer]) -> None:
    """Insert the transient customers in one statement and give them their ids
    (matched by email, which is unique; RETURNING order is not guaranteed)."""
    if not created:
        return
    rows = [
        {c: getattr(customer, c) for c in _NEW_CUSTOMER_COLUMNS} for customer in created
    ]
    returned = await session.execute(
        insert(table_of(Customer)).returning(Customer.id, Customer.email), rows
    )
    ids = {email: customer_id for customer_id, email in returned}
    for customer in created:
        customer.id = ids[customer.email]


async def _store_preferences(
    session: AsyncSession, preferences: dict[Customer, dict[str, str]]
) -> None:
    rows = [
        {"customer_id": customer.id, "key": key, "value": value}
        for customer, values in preferences.items()
        for key, value in values.items()
    ]
    if not rows:
        return
    statement = dialect_insert(session, Preference)
    statement = statement.on_conflict_do_update(
        index_elements=["customer_id", "key"],
        set_={"value": statement.excluded.value},
    )
    await session.execute(statement, rows)


async def _store_addresses(
    session: AsyncSession, wanted: dict[int, AddressTraits]
) -> None:
    """Segment knows one address per user: it is the default shipping address."""
    if not wanted:
        return
    existing = {
        address.customer_id: address
        for address in await session.scalars(
            select(Address).where(
                Address.customer_id.in_(wanted),
                Address.kind == "shipping",
                Address.is_default.is_(True),
            )
        )
    }
    rows: list[dict[str, Any]] = []
    for customer_id, traits in wanted.items():
        address = existing.get(customer_id)
        if address is None:
            rows.append(
                {
                    "customer_id": customer_id,
                    "kind": "shipping",
                    "is_default": True,
                    "country": traits.country,
                    "line1": traits.line1,
                    "city": traits.city,
                    "region": traits.region,
                    "postcode": traits.postcode,
                }
            )
            continue
        address.country = traits.country
        for attribute in ("line1", "city", "region", "postcode"):
            value = getattr(traits, attribute)
            if value is not None:
                setattr(address, attribute, value)
    if rows:
        await session.execute(insert(table_of(Address)), rows)
    await session.flush()
