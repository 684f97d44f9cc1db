"""Writing what identify resolved: new customers, preferences and default
addresses, each in a constant number of statements (Core INSERTs, so SQLite
does not fall back to a row at a time).

``Changes`` collects, per customer, the preferences and address of each
message; under the public write key a value already stored (or sent earlier in
the request) is kept and the later one reported, under the server write key
the last one sent wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Address, Customer, Preference
from gateway.db.upsert import dialect_insert, table_of
from gateway.ingest.traits import AddressTraits, Profile, TraitWarning

_NEW_CUSTOMER_COLUMNS = ("email", "phone", "first_name", "last_name", "birth_date")
_ADDRESS_PARTS = ("line1", "city", "region", "postcode")
KEPT = "stored value kept: the public write key only fills empty fields"


@dataclass(slots=True)
class Changes:
    trusted: bool
    warnings: list[TraitWarning]
    preferences: dict[Customer, list[tuple[int, str, str]]] = field(
        default_factory=dict
    )
    """Customer → (message position, key, value) in message order."""
    addresses: dict[Customer, list[tuple[int, AddressTraits]]] = field(
        default_factory=dict
    )

    def add(self, customer: Customer, position: int, profile: Profile) -> None:
        wanted = self.preferences.setdefault(customer, [])
        wanted += [(position, k, v) for k, v in profile.preferences.items()]
        if profile.address is not None:
            self.addresses.setdefault(customer, []).append((position, profile.address))

    def keep(self, position: int, field: str) -> None:
        self.warnings.append(TraitWarning(position, field, KEPT))


async def insert_customers(session: AsyncSession, created: list[Customer]) -> None:
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


async def store_preferences(session: AsyncSession, changes: Changes) -> None:
    stored: dict[tuple[int, str], str] = {}
    if not changes.trusted and changes.preferences:
        found = await session.execute(
            select(Preference.customer_id, Preference.key, Preference.value).where(
                Preference.customer_id.in_({c.id for c in changes.preferences})
            )
        )
        stored = {(customer_id, key): value for customer_id, key, value in found}
    values: dict[tuple[int, str], str] = {}
    for customer, wanted in changes.preferences.items():
        for position, key, value in wanted:
            slot = (customer.id, key)
            if changes.trusted:
                values[slot] = value
                continue
            current = stored.get(slot, values.get(slot))
            if current is None:
                values[slot] = value
            elif current != value:
                changes.keep(position, f"traits.{key}")
    if not values:
        return
    statement = dialect_insert(session, Preference)
    statement = statement.on_conflict_do_update(
        index_elements=["customer_id", "key"],
        set_={"value": statement.excluded.value},
    )
    rows = [{"customer_id": c, "key": k, "value": v} for (c, k), v in values.items()]
    await session.execute(statement, rows)


async def store_addresses(session: AsyncSession, changes: Changes) -> None:
    """Segment knows one address per user: it is the default shipping address."""
    if not changes.addresses:
        return
    existing = {
        address.customer_id: address
        for address in await session.scalars(
            select(Address).where(
                Address.customer_id.in_({c.id for c in changes.addresses}),
                Address.kind == "shipping",
                Address.is_default.is_(True),
            )
        )
    }
    rows: list[dict[str, Any]] = []
    for customer, sent in changes.addresses.items():
        address = existing.get(customer.id)
        traits = sent[-1][1]
        if not changes.trusted:
            current = sent[0][1] if address is None else address
            for position, later in sent[1:] if address is None else sent:
                if _differs(current, later):
                    changes.keep(position, "traits.address")
            if address is not None:
                continue
            traits = sent[0][1]
        if address is None:
            rows.append(_new_address(customer.id, traits))
            continue
        address.country = traits.country
        for attribute in _ADDRESS_PARTS:
            value = getattr(traits, attribute)
            if value is not None:
                setattr(address, attribute, value)
    if rows:
        await session.execute(insert(table_of(Address)), rows)
    await session.flush()


def _differs(current: Address | AddressTraits, traits: AddressTraits) -> bool:
    """Whether ``traits`` would change ``current`` (parts not sent change nothing)."""
    if current.country != traits.country:
        return True
    return any(
        getattr(traits, part) not in (None, getattr(current, part))
        for part in _ADDRESS_PARTS
    )


def _new_address(customer_id: int, traits: AddressTraits) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "kind": "shipping",
        "is_default": True,
        "country": traits.country,
        "line1": traits.line1,
        "city": traits.city,
        "region": traits.region,
        "postcode": traits.postcode,
    }
