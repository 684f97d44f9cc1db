"""Identify → customers: which customer a message is about, and what it may
change there — which depends on the write key it came with.

The public write key (``CG_INGEST_WRITE_KEY``) ships in browsers and apps, so
anyone can send with it. Under it an identify:

- finds its customer only through its userId's link (never by email or phone);
- may create a customer for an email nobody has, and link its userId to it;
- only fills what is empty: a stored email, phone, name, birthday, default
  address or preference is kept; each refused change is noted as a warning,
  which the answer to the public key leaves out (it would tell the sender
  what is stored: ``TraitWarning.from_message``);
- with an email that belongs to another customer, applies nothing and links
  nothing: the event is stored unattached to any customer, with a warning;
- never sets a phone that another customer has.

The server write key (``CG_INGEST_SERVER_WRITE_KEY``) is trusted: a customer
is found by the userId's link, then by ``traits.email``, and every trait sent
replaces the stored one (an email another customer has is still refused).

Statements per request, whatever the number of identify messages: one SELECT
of the candidate customers, one INSERT … RETURNING for the new ones, UPDATEs of
the changed ones, then ``profile_writes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Customer
from gateway.identity.merge import with_survivors
from gateway.ingest.messages import Message
from gateway.ingest.profile_writes import (
    KEPT,
    Changes,
    insert_customers,
    store_addresses,
    store_preferences,
)
from gateway.ingest.traits import Profile, TraitWarning, read_traits

_TRAIT_OF = {
    "phone": "traits.phone",
    "first_name": "traits.name",
    "last_name": "traits.name",
    "birth_date": "traits.birthday",
}
"""The trait a warning about a customer attribute names."""

OTHER_EMAIL = (
    "this email belongs to another customer: the public write key does not "
    "link to it, nothing of this profile was applied"
)


@dataclass(slots=True)
class Identified:
    customers: dict[int, int] = field(default_factory=dict)
    """Message position → customer id."""
    new_links: dict[str, int] = field(default_factory=dict)
    """userId → customer id, for userIds not linked before."""
    by_email: dict[str, int] = field(default_factory=dict)
    """Email → customer id of every customer loaded or created."""


async def identify_customers(
    session: AsyncSession,
    identifies: Sequence[tuple[int, Message]],
    links: dict[str, int],
    warnings: list[TraitWarning],
    *,
    trusted: bool,
) -> Identified:
    """Apply ``identifies`` in message order; ``trusted`` when they came with
    the server write key. New customers are transient ``Customer`` objects
    until the single INSERT gives them ids."""
    if not identifies:
        return Identified()
    profiles = [(pos, m, read_traits(m.properties)) for pos, m in identifies]
    ids = {links[m.user_id] for _, m, _ in profiles if m.user_id in links}
    emails = {p.email for _, _, p in profiles if p.email}
    phones = {str(p.fields["phone"]) for _, _, p in profiles if "phone" in p.fields}
    by_phone_clause = false() if trusted else Customer.phone.in_(phones)
    loaded = list(
        await session.scalars(
            select(Customer).where(
                or_(Customer.id.in_(ids), Customer.email.in_(emails), by_phone_clause)
            )
        )
    )
    by_id = await with_survivors(session, loaded)  # a merged one is its survivor
    by_email = {c.email: by_id[c.id] for c in loaded}
    by_phone = {c.phone: by_id[c.id] for c in loaded if c.phone}
    created: list[Customer] = []
    pending: dict[str, Customer] = {}
    resolved: dict[int, Customer] = {}
    changes = Changes(trusted=trusted, warnings=warnings)
    for position, message, profile in profiles:
        warnings.extend(
            TraitWarning(position, f, r, from_message=True) for f, r in profile.warnings
        )
        customer = None
        if message.user_id:
            linked = links.get(message.user_id)
            customer = by_id.get(linked) if linked else pending.get(message.user_id)
        if customer is None and profile.email:
            customer = by_email.get(profile.email)
            if customer is not None and not trusted:
                warnings.append(TraitWarning(position, "traits.email", OTHER_EMAIL))
                continue
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
            _change_email(customer, profile, by_email, position, warnings, trusted)
        _set_fields(customer, profile, by_phone, position, warnings, trusted)
        if message.user_id and message.user_id not in links:
            pending.setdefault(message.user_id, customer)
        changes.add(customer, position, profile)
        resolved[position] = customer
    await session.flush()
    await insert_customers(session, created)
    await store_preferences(session, changes)
    await store_addresses(session, changes)
    return Identified(
        customers={position: c.id for position, c in resolved.items()},
        new_links={user_id: c.id for user_id, c in pending.items()},
        by_email={c.email: c.id for c in by_email.values()},
    )


def _change_email(
    customer: Customer,
    profile: Profile,
    by_email: dict[str, Customer],
    position: int,
    warnings: list[TraitWarning],
    trusted: bool,
) -> None:
    """Take the new email when trusted and no other customer has it (unique)."""
    if not profile.email or profile.email == customer.email:
        return
    if not trusted:
        warnings.append(TraitWarning(position, "traits.email", KEPT))
        return
    if profile.email in by_email:
        warnings.append(
            TraitWarning(
                position,
                "traits.email",
                "this email belongs to another customer; email not changed",
            )
        )
        return
    by_email.pop(customer.email, None)
    customer.email = profile.email
    by_email[profile.email] = customer


def _set_fields(
    customer: Customer,
    profile: Profile,
    by_phone: dict[str, Customer],
    position: int,
    warnings: list[TraitWarning],
    trusted: bool,
) -> None:
    kept: set[str] = set()
    for attribute, value in profile.fields.items():
        current = getattr(customer, attribute)
        if trusted or current is None:
            owner = by_phone.get(str(value)) if attribute == "phone" else None
            if not trusted and owner not in (None, customer):
                warnings.append(
                    TraitWarning(
                        position,
                        "traits.phone",
                        "this phone belongs to another customer; phone not set",
                    )
                )
                continue
            setattr(customer, attribute, value)
            if attribute == "phone":
                by_phone[str(value)] = customer
        elif current != value and _TRAIT_OF[attribute] not in kept:
            kept.add(_TRAIT_OF[attribute])
            warnings.append(TraitWarning(position, _TRAIT_OF[attribute], KEPT))
