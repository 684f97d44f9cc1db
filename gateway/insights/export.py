"""Segment exports (CSV or JSON lines) streamed in constant memory.

One statement reads every row, streamed from a server-side cursor (asyncpg)
or the SQLite cursor ``BATCH`` rows at a time; each batch is rendered and
yielded before the next is fetched, so a million-row export holds one batch
at a time. The export holds one connection and one read transaction (a
consistent snapshot) until its last row. Its rows are the segment's members as
``SavedSegment.members`` reads them: a dynamic segment's evaluated at the
export's start (``segments.member_ids``). A marketing export names a channel
and then includes only customers whose consent for it is ``granted``.

Every row goes through ``render_export_row(row, policy)``: the one place a
caller's PII policy (masking per role) applies to what leaves the gateway.
Each rendered batch is handed to ``shown`` (the audit) before it is sent.
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
from sqlalchemy import Row, Select, and_, exists, func, select

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

Format = Literal["csv", "jsonl"]


class ExportPolicy(Protocol):
    """What a caller may see: returns the value to export for ``column``."""

    def apply(self, column: str, value: object) -> object: ...


class FullAccess:
    """No masking: the command line run by an operator."""

    def apply(self, column: str, value: object) -> object:
        return value


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
    """One exported record, after ``policy``; money as a string, exact."""
    apply = policy.apply
    return {
        column: apply(column, str(value) if isinstance(value, Decimal) else value)
        for column, value in zip(COLUMNS, row, strict=True)
    }


def _query(members: Select[Any], channel: str | None) -> Select[tuple[object, ...]]:
    """Every exported row in one statement, by customer id. The first address
    (the default one, else the oldest) comes from one ranked pass over
    ``addresses`` joined like the traits, not from a sub-query per row."""
    c, a = models.Customer, models.Address
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
        )  # fmt: skip
        .outerjoin(ranked, and_(ranked.c.customer_id == c.id, ranked.c.rank == 1))
        .outerjoin(CustomerTraits, CustomerTraits.customer_id == c.id)
        .outerjoin(CustomerRfm, CustomerRfm.customer_id == c.id)
        .where(c.id.in_(members))
        .order_by(c.id)
    )
    if channel is not None:
        k = models.Consent
        statement = statement.where(
            exists().where(
                k.customer_id == c.id, k.channel == channel, k.state == "granted"
            )
        )
    return statement


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
