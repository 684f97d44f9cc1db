"""Merging two customers who are one person, and undoing it exactly.

``merge`` moves everything the merged customer owns to the survivor in one
transaction and writes down what it did (``customer_merges.journal``);
``unmerge`` reads the journal back. Every table holding a ``customer_id`` is
in exactly one class (a test holds the list complete):

* ``MOVED`` — rows that belong to the person (addresses, notes, tasks, the
  loyalty ledger, orders' facts, events, upstream links…) change owner; the
  journal keeps their primary keys, so the unmerge moves those same rows back
  wherever they are, and rows written after the merge stay with the survivor,
  except the events that arrived through one of the merged customer's own
  upstream links (its ``segment`` userIds) and the notes, tasks and loyalty
  entries written through its id (``gateway.db.merged_writes``), which were
  about it.
* ``UNITED`` — one row per customer and key (tags by name, preferences by
  key, consents by channel): the union. Where both hold a key, the survivor's
  row stays (a consent takes the more restrictive state: denied over pending
  over granted) and the merged customer's is set aside in the journal.
* ``SET_ASIDE`` — the merged customer's derived rows (traits, RFM,
  engagement, segment memberships): into the journal, back on unmerge; the
  survivor's are recomputed (``recompute``) from the facts it now holds.
* ``FORGOTTEN`` — caches of look-ups (``identity_checks``): dropped for both.
* ``KEPT`` — history of the record itself (audit, automation runs, audience
  syncs, webhook claims, privacy requests): stays where it is.

The merged customer's row stays, ``merged_into`` the survivor: its id and
email keep resolving to the survivor, lists and segments skip it, and its
own profile is there to give back. The survivor's profile takes, field by
field, the value the survivorship rule picks (``Survivorship``); the journal
keeps the values it replaced, and the unmerge restores each one that nobody
changed since.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from sqlalchemy import Table, and_, delete, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.changes import history
from gateway.db import models
from gateway.errors import BadUserInput, Conflict, NotFound

MOVED = (
    "addresses",
    "notes",
    "loyalty_entries",
    "tasks",
    "customer_events",
    "tracked_events",
    "identities",
    "order_facts",
    "order_item_facts",
    "order_line_facts",
    "checkout_facts",
    "promo_codes",
)
UNITED: Mapping[str, tuple[str, ...]] = {
    "tags": ("name",),
    "preferences": ("key",),
    "consents": ("channel",),
}
SET_ASIDE = (
    "customer_traits",
    "customer_rfm",
    "engagement_facts",
    "segment_members",
    "insights_pending",
)
FORGOTTEN = ("identity_checks",)
KEPT = (
    "audit_log",
    "automation_runs",
    "automation_members",
    "audience_members",
    "segment_membership_events",
    "webhook_deliveries",
    "outbound_messages",
    "privacy_requests",
)

PROFILE = ("phone", "first_name", "last_name", "birth_date", "locale", "timezone")
"""The fields survivorship decides. The email is each record's own key: the
survivor keeps its own, the merged customer's resolves to the survivor."""

RESTRICTIVE = {"denied": 2, "pending": 1, "granted": 0}
"""Consent states, most restrictive highest."""

Recompute = Callable[[AsyncSession, list[int]], Awaitable[None]]
"""Recompute a customer's derived rows (traits, memberships) in the caller's
transaction; given by the layer that owns insights."""


class Survivorship(enum.StrEnum):
    SURVIVOR = "survivor"
    """The survivor's value; the merged customer's only where the survivor has none."""
    NEWEST = "newest"
    """The value of the record updated last; the other's where it has none."""
    MERGED = "merged"
    """The merged customer's value (where it has one)."""


@dataclass(frozen=True, slots=True)
class FieldOutcome:
    field: str
    survivor: Any
    merged: Any
    result: Any
    taken_from: str
    """``survivor``, ``merged`` or ``both`` (equal values)."""


@dataclass(slots=True)
class Plan:
    survivor: models.Customer
    merged: models.Customer
    fields: list[FieldOutcome]
    tags: list[str]
    consents: dict[str, str]
    """Channel → the state the survivor will have."""
    loyalty_balance: int
    moved: dict[str, int] = field(default_factory=dict)
    """Table → rows the merge would move (or did move)."""


def _table(name: str) -> Table:
    table = models.Base.metadata.tables.get(name)
    if table is None:  # every class above names a registered table (tests hold it)
        raise LookupError(name)
    return table


def _tables(names: Sequence[str]) -> list[Table]:
    return [_table(n) for n in names]


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$t": value.isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$n": str(value)}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((tag, text),) = value.items()
        if tag == "$t":
            return datetime.fromisoformat(text)
        if tag == "$d":
            return date.fromisoformat(text)
        if tag == "$n":
            return Decimal(text)
    return value


def _row(mapping: Mapping[Any, Any]) -> dict[str, Any]:
    return {k: _encode(v) for k, v in mapping.items()}


def _unrow(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _decode(v) for k, v in mapping.items()}


async def _customer(session: AsyncSession, pk: int, argument: str) -> models.Customer:
    row = await session.get(models.Customer, pk, populate_existing=True)
    if row is None:
        raise NotFound("No customer with this id.", field=argument)
    return row


def _pick(
    name: str,
    survivor: models.Customer,
    merged: models.Customer,
    rule: Survivorship,
) -> FieldOutcome:
    ours, theirs = getattr(survivor, name), getattr(merged, name)
    if ours == theirs:
        return FieldOutcome(name, ours, theirs, ours, "both")
    prefer_merged = rule is Survivorship.MERGED or (
        rule is Survivorship.NEWEST and merged.updated_at > survivor.updated_at
    )
    if (prefer_merged and theirs is not None) or ours is None:
        return FieldOutcome(name, ours, theirs, theirs, "merged")
    return FieldOutcome(name, ours, theirs, ours, "survivor")


async def plan(
    session: AsyncSession,
    survivor_id: int,
    merged_id: int,
    default: Survivorship = Survivorship.SURVIVOR,
    choices: Mapping[str, Survivorship] | None = None,
) -> Plan:
    """What merging ``merged_id`` into ``survivor_id`` would give, field by
    field; nothing is written. Refuses what ``merge`` refuses."""
    if survivor_id == merged_id:
        raise BadUserInput("A customer cannot be merged with itself.", field="mergedId")
    unknown = sorted(set(choices or {}) - set(PROFILE))
    if unknown:
        raise BadUserInput(f"Not a profile field: {unknown[0]}.", field="fields")
    survivor = await _customer(session, survivor_id, "survivorId")
    merged = await _customer(session, merged_id, "mergedId")
    for row, argument in ((survivor, "survivorId"), (merged, "mergedId")):
        if row.merged_into is not None:
            raise Conflict(
                "This customer is already merged into another.", field=argument
            )
    await _not_being_erased(session, (survivor_id, merged_id))
    fields = [
        _pick(name, survivor, merged, (choices or {}).get(name, default))
        for name in PROFILE
    ]
    ids = (survivor_id, merged_id)
    tags = sorted(
        set(
            await session.scalars(
                select(models.Tag.name).where(models.Tag.customer_id.in_(ids))
            )
        )
    )
    consents: dict[str, str] = {}
    for channel, state in await session.execute(
        select(models.Consent.channel, models.Consent.state).where(
            models.Consent.customer_id.in_(ids)
        )
    ):
        held = consents.get(channel)
        if held is None or RESTRICTIVE[state] > RESTRICTIVE[held]:
            consents[channel] = state
    balance = 0
    for (points,) in await session.execute(
        select(models.LoyaltyEntry.points).where(
            models.LoyaltyEntry.customer_id.in_(ids)
        )
    ):
        balance += int(points)
    result = Plan(survivor, merged, fields, tags, consents, balance)
    for table in _tables(MOVED):
        counted = await session.scalar(
            select(func.count())
            .select_from(table)
            .where(table.c.customer_id == merged_id)
        )
        if counted:
            result.moved[table.name] = int(counted)
    return result


async def merge(
    session: AsyncSession,
    survivor_id: int,
    merged_id: int,
    *,
    actor: str,
    explanation: Mapping[str, object],
    recompute: Recompute,
    default: Survivorship = Survivorship.SURVIVOR,
    choices: Mapping[str, Survivorship] | None = None,
) -> tuple[models.CustomerMerge, Plan]:
    """Merge in the caller's transaction; the plan it carried out."""
    await _lock(session, sorted((survivor_id, merged_id)))
    done = await plan(session, survivor_id, merged_id, default, choices)
    journal: dict[str, Any] = {"moved": {}, "united": {}, "set_aside": {}}
    for table in _tables(MOVED):
        pk = list(table.primary_key.columns)
        moved = await session.execute(
            update(table)
            .where(table.c.customer_id == merged_id)
            .values(customer_id=survivor_id)
            .returning(*pk)
        )
        keys = [[_encode(v) for v in row] for row in moved]
        if keys:
            journal["moved"][table.name] = keys
    for name, key_columns in UNITED.items():
        journal["united"][name] = await _unite(
            session, _table(name), key_columns, survivor_id, merged_id
        )
    for table in _tables(SET_ASIDE):
        rows = (
            (
                await session.execute(
                    select(table).where(table.c.customer_id == merged_id)
                )
            )
            .mappings()
            .all()
        )
        if rows:
            journal["set_aside"][table.name] = [_row(r) for r in rows]
            await session.execute(delete(table).where(table.c.customer_id == merged_id))
    for table in _tables(FORGOTTEN):
        await session.execute(
            delete(table).where(table.c.customer_id.in_((survivor_id, merged_id)))
        )
    survivor, merged = done.survivor, done.merged
    journal["survivor_before"] = {
        o.field: _encode(o.survivor) for o in done.fields if o.result != o.survivor
    }
    journal["survivor_set"] = {
        o.field: _encode(o.result) for o in done.fields if o.result != o.survivor
    }
    for outcome in done.fields:
        setattr(survivor, outcome.field, outcome.result)
    repointed = await session.execute(
        update(models.Customer)
        .where(models.Customer.merged_into == merged_id)
        .values(merged_into=survivor_id)
        .returning(models.Customer.id)
    )
    journal["repointed"] = [row[0] for row in repointed]
    merged.merged_into = survivor_id
    record = models.CustomerMerge(
        survivor_id=survivor_id,
        merged_id=merged_id,
        explanation=dict(explanation),
        journal=journal,
        merged_by=actor,
        merged_at=models.utcnow(),
    )
    session.add(record)
    await session.flush()
    _history(session, survivor_id, "customer_merged", merged_id, record.id, actor)
    await recompute(session, [survivor_id])
    return record, done


async def _not_being_erased(session: AsyncSession, customer_ids: Sequence[int]) -> None:
    """CONFLICT when an erasure of either customer is under way: a merge or an
    unmerge would move rows the erasure is about to delete, or hand it a
    customer nobody asked to erase."""
    if await models.erasure_under_way(session, customer_ids):
        raise Conflict("This customer is being erased.", field="id")


def _history(
    session: AsyncSession,
    customer_id: int,
    kind: str,
    other: int,
    merge_id: int,
    actor: str,
) -> None:
    """The merge or unmerge on the customer's timeline (ids only)."""
    summary = {
        "customer_merged": f"Customer {other} was merged into this one",
        "customer_unmerged": f"Unmerged from customer {other}",
    }[kind]
    history.record(
        session, customer_id, kind, summary, actor=actor, other=other, merge_id=merge_id
    )


async def _unite(
    session: AsyncSession,
    table: Table,
    key_columns: tuple[str, ...],
    survivor_id: int,
    merged_id: int,
) -> dict[str, Any]:
    """Move the merged customer's rows whose key the survivor lacks; set the
    others aside (a consent first makes the survivor's the more restrictive)."""
    keys = [table.c[k] for k in key_columns]
    held = {
        tuple(row)
        for row in await session.execute(
            select(*keys).where(table.c.customer_id == survivor_id)
        )
    }
    theirs = (
        (await session.execute(select(table).where(table.c.customer_id == merged_id)))
        .mappings()
        .all()
    )
    moved, aside, changed = [], [], []
    for row in theirs:
        key = tuple(row[k] for k in key_columns)
        where = and_(
            table.c.customer_id == merged_id,
            *(c == v for c, v in zip(keys, key, strict=True)),
        )
        if key not in held:
            moved.append([_encode(v) for v in key])
            await session.execute(
                update(table).where(where).values(customer_id=survivor_id)
            )
            continue
        aside.append(_row(row))
        if table.name == "consents":
            ours = (
                (
                    await session.execute(
                        select(table).where(
                            table.c.customer_id == survivor_id,
                            table.c.channel == row["channel"],
                        )
                    )
                )
                .mappings()
                .one()
            )
            if RESTRICTIVE[row["state"]] > RESTRICTIVE[ours["state"]]:
                changed.append({"before": _row(ours), "after": _row(row)})
                await session.execute(
                    update(table)
                    .where(
                        table.c.customer_id == survivor_id,
                        table.c.channel == row["channel"],
                    )
                    .values(
                        state=row["state"],
                        source=row["source"],
                        changed_at=row["changed_at"],
                    )
                )
        await session.execute(delete(table).where(where))
    return {"moved": moved, "aside": aside, "changed": changed}


async def _lock(session: AsyncSession, ids: Sequence[int]) -> None:
    """Hold both customers' rows (in id order: two merges never deadlock)."""
    for pk in ids:
        await session.execute(
            update(models.Customer)
            .where(models.Customer.id == pk)
            .values(updated_at=models.Customer.updated_at)
            .execution_options(synchronize_session=False)
        )


async def active_merge(session: AsyncSession, merged_id: int) -> models.CustomerMerge:
    """The merge that made ``merged_id`` merged; CONFLICT when there is none."""
    found = await session.scalar(
        select(models.CustomerMerge)
        .where(
            models.CustomerMerge.merged_id == merged_id,
            models.CustomerMerge.unmerged_at.is_(None),
        )
        .order_by(models.CustomerMerge.id.desc())
        .limit(1)
    )
    if found is None:
        raise Conflict("This customer is not merged.", field="id")
    return found


async def unmerge(
    session: AsyncSession, merged_id: int, *, actor: str, recompute: Recompute
) -> models.CustomerMerge:
    """Undo the merge of ``merged_id`` in the caller's transaction. Both
    customers are locked (in id order, as a merge locks them) before the
    merge is read, so of two unmerges at once the second finds none."""
    survivor_id = (await _customer(session, merged_id, "id")).merged_into
    if survivor_id is None:
        raise Conflict("This customer is not merged.", field="id")
    await _lock(session, sorted((survivor_id, merged_id)))
    record = await active_merge(session, merged_id)
    if record.survivor_id != survivor_id:  # merged elsewhere meanwhile: try again
        raise Conflict("This customer's merge changed meanwhile; retry.", field="id")
    survivor = await _customer(session, survivor_id, "id")
    if survivor.merged_into is not None:
        raise Conflict("The survivor was merged since: unmerge it first.", field="id")
    await _not_being_erased(session, (survivor_id, merged_id))
    journal: dict[str, Any] = record.journal
    for name, keys in journal.get("moved", {}).items():
        table = _table(name)
        pk = list(table.primary_key.columns)
        column = pk[0] if len(pk) == 1 else tuple_(*pk)
        for chunk in _chunks(keys):
            values = [
                _decode(k[0]) if len(pk) == 1 else tuple(_decode(v) for v in k)
                for k in chunk
            ]
            await session.execute(
                update(table)
                .where(column.in_(values), table.c.customer_id == survivor_id)
                .values(customer_id=merged_id)
            )
    await _events_of_its_links(
        session, journal, survivor_id, merged_id, record.merged_at
    )
    written: dict[str, list[int]] = {}
    for name, row_id in journal.get("written", []):  # through the merged id
        written.setdefault(name, []).append(row_id)
    for name, ids in written.items():
        table = _table(name)
        await session.execute(
            update(table)
            .where(table.c.id.in_(ids), table.c.customer_id == survivor_id)
            .values(customer_id=merged_id)
        )
    for name, united in journal.get("united", {}).items():
        table = _table(name)
        key_columns = UNITED[name]
        for key in united["moved"]:
            await session.execute(
                update(table)
                .where(
                    table.c.customer_id == survivor_id,
                    *(
                        table.c[k] == _decode(v)
                        for k, v in zip(key_columns, key, strict=True)
                    ),
                )
                .values(customer_id=merged_id)
            )
        for change in united["changed"]:
            before, after = _unrow(change["before"]), _unrow(change["after"])
            await session.execute(
                update(table)
                .where(
                    table.c.customer_id == survivor_id,
                    table.c.channel == before["channel"],
                    table.c.state == after["state"],
                    table.c.changed_at == after["changed_at"],
                )
                .values(
                    state=before["state"],
                    source=before["source"],
                    changed_at=before["changed_at"],
                )
            )
        if united["aside"]:
            await session.execute(insert(table), [_unrow(r) for r in united["aside"]])
    for name, rows in journal.get("set_aside", {}).items():
        table = _table(name)
        await session.execute(delete(table).where(table.c.customer_id == merged_id))
        await session.execute(insert(table), [_unrow(r) for r in rows])
    before = journal.get("survivor_before", {})
    set_to = journal.get("survivor_set", {})
    for name, value in before.items():
        if getattr(survivor, name) == _decode(set_to.get(name)):  # unchanged since
            setattr(survivor, name, _decode(value))
    if journal.get("repointed"):
        await session.execute(
            update(models.Customer)
            .where(models.Customer.id.in_(journal["repointed"]))
            .values(merged_into=merged_id)
        )
    merged = await _customer(session, merged_id, "id")
    merged.merged_into = None
    for table in _tables(FORGOTTEN):
        await session.execute(
            delete(table).where(table.c.customer_id.in_((survivor_id, merged_id)))
        )
    record.unmerged_by = actor
    record.unmerged_at = models.utcnow()
    for one, other in ((survivor_id, merged_id), (merged_id, survivor_id)):
        _history(session, one, "customer_unmerged", other, record.id, actor)
    await session.flush()
    await recompute(session, [survivor_id, merged_id])
    return record


async def _events_of_its_links(
    session: AsyncSession,
    journal: Mapping[str, Any],
    survivor_id: int,
    merged_id: int,
    since: datetime,
) -> None:
    """Events received after the merge through one of the merged customer's
    own userIds were about it: they go back with it."""
    link_ids = [key[0] for key in journal.get("moved", {}).get("identities", [])]
    if not link_ids:
        return
    user_ids = list(
        await session.scalars(
            select(models.Identity.external_id).where(
                models.Identity.id.in_(link_ids), models.Identity.source == "segment"
            )
        )
    )
    if not user_ids:
        return
    events = models.TrackedEvent
    await session.execute(
        update(events)
        .where(
            events.customer_id == survivor_id,
            events.received_at >= since,
            events.user_id.in_(user_ids),
        )
        .values(customer_id=merged_id)
    )


def _chunks(keys: list[Any], size: int = 500) -> list[list[Any]]:
    return [keys[i : i + size] for i in range(0, len(keys), size)]


class Merged(Protocol):
    """A customer's row as read: an ORM instance or ``db.rows.CustomerRow``."""

    @property
    def id(self) -> int: ...
    @property
    def merged_into(self) -> int | None: ...


M = TypeVar("M", bound=Merged)


async def with_survivors(
    session: AsyncSession, rows: Sequence[models.Customer]
) -> dict[int, models.Customer]:
    """Each row's id → the customer it resolves to: itself, or the survivor it
    was merged into (one more statement, only when some row is merged)."""

    async def read(ids: set[int]) -> Iterable[models.Customer]:
        statement = select(models.Customer).where(models.Customer.id.in_(ids))
        return await session.scalars(statement)

    return await resolved(rows, read)


async def resolved(
    rows: Sequence[M], read: Callable[[set[int]], Awaitable[Iterable[M]]]
) -> dict[int, M]:
    """``with_survivors`` for rows of any shape, ``read`` reading the
    survivors by id (called only when some row is merged)."""
    wanted = {row.merged_into for row in rows if row.merged_into is not None}
    survivors = {row.id: row for row in await read(wanted)} if wanted else {}
    return {
        row.id: survivors.get(row.merged_into, row) if row.merged_into else row
        for row in rows
    }


RESOLVED = func.coalesce(models.Customer.merged_into, models.Customer.id)
"""The id a ``customers`` row resolves to, in SQL."""
