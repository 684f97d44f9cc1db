"""Segment exports (CSV or JSON lines) streamed in constant memory.

One statement reads every row, streamed from a server-side cursor (asyncpg)
or the SQLite cursor ``BATCH`` rows at a time; each batch is rendered and
yielded before the next is fetched, so a million-row export holds one batch
at a time. The export holds one connection and one read transaction (a
consistent snapshot) until its last row. Its rows are the segment's members as
``SavedSegment.members`` reads them: a dynamic segment's evaluated at the
export's start (``segments.member_ids``). An export may name a channel
(``email`` or ``sms``; marketing's must) and then includes only customers whose
consent for it is ``granted``.

Every row goes through ``render_export_row(row, policy)``: the one place a
caller's PII policy applies to what leaves the gateway. The row carries the
customer's granted channels, read by the same statement (so at the export's
snapshot, never from a cache); the contact columns are what
``gateway.auth.contact.contact_for`` gives the role — for marketing, the email
only where email consent is granted and the phone only where SMS consent is,
else empty, never masked. So an email export lists every row's email in full,
an SMS export every row's phone. Each rendered batch is handed to ``shown``
(the audit) before it is sent.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

import orjson
from sqlalchemy import ColumnElement, Row, Select, and_, func, select
from sqlalchemy.orm import aliased

from gateway.auth.contact import GRANTED, Contact, ContactRow, contact_for
from gateway.auth.policy import EXPORT_COLUMNS, Role, apply
from gateway.db import models
from gateway.db.models import utcnow
from gateway.errors import BadUserInput
from gateway.insights.order_facts import Sessions
from gateway.insights.segments import member_ids, segment_by_name
from gateway.insights.tables import CustomerRfm, CustomerTraits

BATCH = 5000
FORMATS = ("csv", "jsonl")
CHANNELS = ("email", "sms")
COLUMNS = (
    "customer_id", "email", "phone", "first_name", "last_name", "country", "city",
    "favourite_category", "lifetime_value", "rfm_segment",
)  # fmt: skip
CONTACT_COLUMNS = frozenset({"email", "phone"})

Format = Literal["csv", "jsonl"]


class ExportPolicy(Protocol):
    """What a caller may see of each row."""

    def apply(self, column: str, value: object) -> object:
        """The value to export for ``column`` (not a contact column)."""
        ...

    def contact(self, customer: ContactRow) -> Contact:
        """The contact columns."""
        ...


class FullAccess:
    """No masking: the command line run by an operator."""

    def apply(self, column: str, value: object) -> object:
        return value

    def contact(self, customer: ContactRow) -> Contact:
        return Contact(customer.email, customer.phone)


class RolePolicy:
    """An export as ``role`` may see it: the contact columns through
    ``contact_for`` (the customer's consents), the others through the table."""

    def __init__(self, role: Role) -> None:
        self.role = role

    def apply(self, column: str, value: object) -> object:
        kind = EXPORT_COLUMNS.get(column)
        return value if kind is None else apply(self.role, kind, value)

    def contact(self, customer: ContactRow) -> Contact:
        return contact_for(self.role, customer)


@dataclass(frozen=True, slots=True)
class ExportRequest:
    segment: str
    format: str = "csv"
    channel: str | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise BadUserInput("format is csv or jsonl.", argument="format")
        if self.channel is not None and self.channel not in CHANNELS:
            raise BadUserInput("channel is email or sms.", argument="channel")


def render_export_row(
    row: Row[tuple[object, ...]], policy: ExportPolicy
) -> dict[str, object]:
    """One exported record, after ``policy``; money as a string, exact. The
    row is ``COLUMNS`` then whether email and SMS consent are granted."""
    values = dict(zip(COLUMNS, row[: len(COLUMNS)], strict=True))
    email_granted, sms_granted = row[len(COLUMNS) :]
    granted = frozenset(
        channel
        for channel, yes in (("email", email_granted), ("sms", sms_granted))
        if yes
    )
    customer_id = values["customer_id"]
    assert isinstance(customer_id, int)
    contact = policy.contact(
        ContactRow(customer_id, _text(values["email"]), _text(values["phone"]), granted)
    )
    shown = {"email": contact.email, "phone": contact.phone}
    return {
        column: shown[column]
        if column in CONTACT_COLUMNS
        else policy.apply(column, str(value) if isinstance(value, Decimal) else value)
        for column, value in values.items()
    }


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _query(members: Select[Any], channel: str | None) -> Select[tuple[object, ...]]:
    """Every exported row in one statement, by customer id. The first address
    (the default one, else the oldest) comes from one ranked pass over
    ``addresses`` joined like the traits, not from a sub-query per row."""
    c, a = models.Customer, models.Address
    by_email, by_sms = aliased(models.Consent), aliased(models.Consent)
    ranked = select(
        a.customer_id,
        a.country,
        a.city,
        func.row_number()
        .over(partition_by=a.customer_id, order_by=(a.is_default.desc(), a.id))
        .label("rank"),
    ).subquery("a")
    statement = (
        select(
            c.id,
            c.email,
            c.phone,
            c.first_name,
            c.last_name,
            ranked.c.country,
            ranked.c.city,
            CustomerTraits.favourite_category_by_quantity,
            CustomerTraits.lifetime_value,
            CustomerRfm.segment,
            by_email.customer_id.is_not(None),
            by_sms.customer_id.is_not(None),
        )  # fmt: skip
        .outerjoin(ranked, and_(ranked.c.customer_id == c.id, ranked.c.rank == 1))
        .outerjoin(by_email, _granted(by_email, c, "email"))
        .outerjoin(by_sms, _granted(by_sms, c, "sms"))
        .outerjoin(CustomerTraits, CustomerTraits.customer_id == c.id)
        .outerjoin(CustomerRfm, CustomerRfm.customer_id == c.id)
        .where(c.id.in_(members))
        .order_by(c.id)
    )
    if channel is not None:
        granted = {"email": by_email, "sms": by_sms}[channel]
        statement = statement.where(granted.customer_id.is_not(None))
    return statement


def _granted(
    consent: type[models.Consent], customer: type[models.Customer], channel: str
) -> ColumnElement[bool]:
    """The join to the customer's one consent row for ``channel``, if granted
    (the primary key is customer and channel: at most one row)."""
    return and_(
        consent.customer_id == customer.id,
        consent.channel == channel,
        consent.state == GRANTED,
    )


def _encode(rows: list[dict[str, object]], fmt: str, header: bool) -> bytes:
    if fmt == "jsonl":
        return b"".join(orjson.dumps(r) + b"\n" for r in rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(COLUMNS)
    writer.writerows(r.values() for r in rows)  # in COLUMNS order
    return buffer.getvalue().encode()


async def export_segment(
    sessions: Sessions,
    request: ExportRequest,
    policy: ExportPolicy,
    shown: Callable[[Sequence[dict[str, object]]], Awaitable[None]] | None = None,
    now: datetime | None = None,
) -> AsyncIterator[bytes]:
    """The export, one encoded batch at a time (the CSV header comes first);
    ``shown`` sees each batch of rendered rows before it is sent."""
    async with sessions() as session:
        segment = await segment_by_name(session, request.segment)
        members = member_ids(segment, now or utcnow())
        query = _query(members, request.channel).execution_options(yield_per=BATCH)
        first = True
        connection = await session.connection()  # Core rows: no ORM loading
        async for rows in (await connection.stream(query)).partitions(BATCH):
            rendered = [render_export_row(r, policy) for r in rows]
            if shown is not None:
                await shown(rendered)
            yield _encode(rendered, request.format, first)
            first = False
        if first:
            yield _encode([], request.format, header=True)
