"""Customer writes: each function validates, then writes in one transaction;
``gateway.crm.service.Crm`` calls them and announces what they committed.

A failed check raises before anything is written; a unique-email clash found by
the database rolls the whole transaction back and becomes ``CONFLICT``.

Concurrent requests (several replicas share the database) are settled by the
database, never by an in-process lock: tags and consents are written with
``INSERT … ON CONFLICT``, so two requests adding the same tag or first consent
both succeed and store one row; a loyalty change locks its customer's row
(``_locked``) before it reads the balance it checks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.changes import history
from gateway.db import models
from gateway.db.merged_writes import note_written, target
from gateway.db.races import is_unique_violation
from gateway.db.upsert import dialect_insert
from gateway.errors import BadUserInput, Conflict, NotFound
from gateway.validation import (
    clean_name,
    clean_text,
    normalize_country,
    normalize_email,
    normalize_locale,
    normalize_phone,
    normalize_timezone,
)

Sessions = async_sessionmaker[AsyncSession]
MAX_LOYALTY_CHANGE = 1_000_000
MAX_LOYALTY_BALANCE = 2**31 - 1
"""GraphQL's ``Int`` is 32-bit: a balance past it cannot be answered, and the
whole customer came back null."""


@dataclass(frozen=True, slots=True)
class NewAddress:
    kind: str
    country: str
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postcode: str | None = None
    is_default: bool = False


@dataclass(frozen=True, slots=True)
class NewCustomer:
    email: str
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    birth_date: date | None = None
    locale: str | None = None
    timezone: str | None = None
    addresses: Sequence[NewAddress] = ()
    tags: Sequence[str] = ()
    preferences: Mapping[str, str] = field(default_factory=dict)


def _address(data: NewAddress) -> models.Address:
    if data.kind not in ("shipping", "billing"):
        raise BadUserInput("Address kind must be shipping or billing.", field="kind")
    return models.Address(
        kind=data.kind,
        country=normalize_country(data.country),
        line1=data.line1,
        line2=data.line2,
        city=data.city,
        region=data.region,
        postcode=data.postcode,
        is_default=data.is_default,
    )


def clean_tag(tag: str) -> str:
    return clean_name(tag, "tags", 64, subject="A tag in `tags`").lower()


def _names(first: str | None, last: str | None) -> tuple[str | None, str | None]:
    return (
        clean_text(first, "firstName", 100, required=False) or None if first else None,
        clean_text(last, "lastName", 100, required=False) or None if last else None,
    )


def _check_birth_date(value: date | None) -> date | None:
    if value is not None and not date(1900, 1, 1) <= value <= date.today():
        raise BadUserInput(
            "Birth date must be between 1900 and today.", field="birthDate"
        )
    return value


async def _unique_email(write: Awaitable[None]) -> None:
    """Await a flush or commit; the only unique key a client can clash on is email."""
    try:
        await write
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        raise Conflict(
            "A customer with this email already exists.", field="email"
        ) from exc


async def create_customer(sessions: Sessions, data: NewCustomer) -> models.Customer:
    addresses = [_address(a) for a in data.addresses]
    region = addresses[0].country if addresses else None
    first, last = _names(data.first_name, data.last_name)
    customer = models.Customer(
        email=normalize_email(data.email),
        phone=normalize_phone(data.phone, region) if data.phone else None,
        first_name=first,
        last_name=last,
        birth_date=_check_birth_date(data.birth_date),
        locale=normalize_locale(data.locale) if data.locale else None,
        timezone=normalize_timezone(data.timezone) if data.timezone else None,
    )
    tags = {clean_tag(t) for t in data.tags}
    preferences = {
        clean_text(k, "preferences.key", 64): clean_text(v, "preferences.value", 500)
        for k, v in data.preferences.items()
    }
    async with sessions() as session:
        session.add(customer)
        await _unique_email(session.flush())
        for address in addresses:
            address.customer_id = customer.id
        session.add_all(addresses)
        session.add_all(
            models.Tag(customer_id=customer.id, name=t) for t in sorted(tags)
        )
        session.add_all(
            models.Preference(customer_id=customer.id, key=k, value=v)
            for k, v in preferences.items()
        )
        await _unique_email(session.commit())
    return customer


async def _get(session: AsyncSession, customer_id: int) -> models.Customer:
    customer = await session.get(models.Customer, customer_id)
    if customer is None:
        raise NotFound("No customer with this id.", field="id")
    return customer


async def _locked(session: AsyncSession, customer_id: int) -> int:
    """Hold the customer's row until the transaction ends, or raise
    ``NotFound``; returns the customer written to (a merged one's survivor,
    whose row is then held too).

    A second writer of the same customer waits here, then reads what the first
    committed. A no-op UPDATE rather than ``SELECT … FOR UPDATE``, which SQLite
    ignores: the UPDATE takes the row lock on PostgreSQL and the write lock on
    SQLite, before anything is read.
    """
    locked = (
        await session.execute(
            update(models.Customer)
            .where(models.Customer.id == customer_id)
            .values(updated_at=models.Customer.updated_at)
            .returning(models.Customer.id, models.Customer.merged_into)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if locked is None:
        raise NotFound("No customer with this id.", field="id")
    if locked.merged_into is not None:
        return await _locked(session, locked.merged_into)
    return customer_id


_UPDATERS: dict[str, Callable[[str], str]] = {
    "email": normalize_email,
    "phone": normalize_phone,
    "locale": normalize_locale,
    "timezone": normalize_timezone,
}


async def update_customer(
    sessions: Sessions, customer_id: int, changes: Mapping[str, object]
) -> models.Customer:
    """Apply ``changes`` (field → new value; ``None`` clears a nullable field)."""
    values: dict[str, object] = {}
    for name, value in changes.items():
        if value is None:
            if name == "email":
                raise BadUserInput("Email cannot be removed.", field="email")
            values[name] = None
        elif name in _UPDATERS and isinstance(value, str):
            values[name] = _UPDATERS[name](value)
        elif name in ("first_name", "last_name") and isinstance(value, str):
            values[name] = clean_text(value, name, 100, required=False) or None
        elif name == "birth_date" and isinstance(value, date):
            values[name] = _check_birth_date(value)
        else:
            raise BadUserInput(f"Cannot update {name}.", field=name)
    async with sessions() as session:
        customer = await _get(session, customer_id)
        if customer.merged_into is not None:  # the person's profile: the survivor's
            customer = await _get(session, customer.merged_into)
        for name, value in values.items():
            setattr(customer, name, value)
        await _unique_email(session.commit())
    return customer


async def add_note(
    sessions: Sessions, customer_id: int, author: str, body: str
) -> models.Note:
    note = models.Note(
        customer_id=customer_id,
        author=clean_text(author, "author", 200),
        body=clean_text(body, "body", 10_000),
    )
    async with sessions() as session:
        note.customer_id = target(await _get(session, customer_id))
        session.add(note)
        await session.flush()
        event = history.record(
            session,
            note.customer_id,
            "note_added",
            note.body,
            actor=note.author,
            note_id=note.id,
        )
        await _about_merged(session, customer_id, note.customer_id, note, event)
        await session.commit()
    return note


async def _about_merged(
    session: AsyncSession,
    addressed: int,
    written_to: int,
    row: models.Note | models.Task | models.LoyaltyEntry,
    event: models.CustomerEvent,
) -> None:
    """A write addressed to a merged customer: its row and history event
    noted on the merge, to go back to that customer on unmerge."""
    if addressed == written_to:
        return
    await session.flush()
    table = type(row).__tablename__
    await note_written(
        session, addressed, [(table, row.id), ("customer_events", event.id)]
    )


async def tag_customer(
    sessions: Sessions, customer_id: int, tags: Sequence[str], *, add: bool
) -> int:
    """Add or remove ``tags``; only the tags this call changed get a history
    entry, so two requests adding the same tag at once record it once.
    Returns the customer tagged (a merged one's survivor)."""
    async with sessions() as session, session.begin():
        customer_id = target(await _get(session, customer_id))
        await write_tags(session, customer_id, tags, add=add)
    return customer_id


async def write_tags(
    session: AsyncSession,
    customer_id: int,
    tags: Sequence[str],
    *,
    add: bool,
    actor: str | None = None,
) -> list[str]:
    """``tag_customer`` inside the caller's transaction; returns the tags it
    changed."""
    names = {clean_tag(t) for t in tags}
    if not names:
        raise BadUserInput("Give at least one tag.", field="tags")
    await _get(session, customer_id)
    tag = models.Tag
    if add:
        insert = dialect_insert(session, tag)
        statement = insert.values(
            [{"customer_id": customer_id, "name": n} for n in sorted(names)]
        ).on_conflict_do_nothing(index_elements=["customer_id", "name"])
        changed = await session.scalars(statement.returning(insert.table.c.name))
    else:
        changed = await session.scalars(
            delete(tag)
            .where(tag.customer_id == customer_id, tag.name.in_(names))
            .returning(tag.name)
            .execution_options(synchronize_session=False)
        )
    verb = "added" if add else "removed"
    done = sorted(changed)
    for name in done:
        history.record(
            session,
            customer_id,
            f"tag_{verb}",
            f"Tag {name} {verb}",
            actor=actor,
            tag=name,
        )
    return done


async def set_consent(
    sessions: Sessions, customer_id: int, channel: str, state: str, source: str
) -> models.Consent:
    """Upsert the channel's one row: of two requests at once, the later wins."""
    consent = models.Consent(
        customer_id=customer_id,
        channel=channel,
        state=state,
        source=clean_name(source, "source", 64),
        changed_at=models.utcnow(),
    )
    async with sessions() as session, session.begin():
        customer_id = consent.customer_id = target(await _get(session, customer_id))
        insert = dialect_insert(session, models.Consent)
        await session.execute(
            insert.values(
                customer_id=customer_id,
                channel=channel,
                state=consent.state,
                source=consent.source,
                changed_at=consent.changed_at,
            ).on_conflict_do_update(
                index_elements=["customer_id", "channel"],
                set_={
                    "state": insert.excluded.state,
                    "source": insert.excluded.source,
                    "changed_at": insert.excluded.changed_at,
                },
            )
        )
        history.record(
            session,
            customer_id,
            "consent_changed",
            f"{channel.capitalize()} consent {state}",
            actor=consent.source,
            channel=channel,
            state=state,
        )
    return consent


async def add_loyalty_points(
    sessions: Sessions, customer_id: int, points: int, reason: str
) -> models.LoyaltyEntry:
    """Credit (positive) or redeem (negative) points; the balance never goes below
    0 nor past ``MAX_LOYALTY_BALANCE``, however many changes arrive at once."""
    if points == 0 or abs(points) > MAX_LOYALTY_CHANGE:
        raise BadUserInput(
            f"Points are not zero and at most {MAX_LOYALTY_CHANGE:,} either way.",
            field="points",
        )
    entry = models.LoyaltyEntry(
        customer_id=customer_id, points=points, reason=clean_text(reason, "reason", 200)
    )
    addressed = customer_id
    async with sessions() as session, session.begin():
        customer_id = entry.customer_id = await _locked(session, customer_id)
        balance = await session.scalar(
            select(func.coalesce(func.sum(models.LoyaltyEntry.points), 0)).where(
                models.LoyaltyEntry.customer_id == customer_id
            )
        )
        if int(balance or 0) + points < 0:
            raise BadUserInput(
                f"Not enough points: the balance is {balance}.", field="points"
            )
        if int(balance or 0) + points > MAX_LOYALTY_BALANCE:
            raise BadUserInput(
                f"A balance is at most {MAX_LOYALTY_BALANCE:,} points.", field="points"
            )
        session.add(entry)
        event = history.record(
            session,
            customer_id,
            "loyalty_changed",
            f"{points:+d} loyalty points: {entry.reason}",
            points=points,
            reason=entry.reason,
        )
        await _about_merged(session, addressed, customer_id, entry, event)
    return entry
