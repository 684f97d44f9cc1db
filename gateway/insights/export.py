"""Segment exports (CSV or JSON lines) streamed in constant memory.

Members are read by keyset in batches of ``BATCH`` customer ids, each batch
rendered and yielded before the next is read, so a million-row export holds
one batch at a time whatever the driver. A marketing export names a channel
and then includes only customers whose consent for it is ``granted``.

Every row goes through ``render_export_row(row, policy)``: the one place a
caller's PII policy (masking per role) applies to what leaves the gateway.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

import orjson
from sqlalchemy import Row, exists, select
from sqlalchemy.orm import aliased

from gateway.db import models
from gateway.errors import BadUserInput
from gateway.insights.order_facts import Sessions
from gateway.insights.segments import segment_by_name
from gateway.insights.tables import CustomerRfm, CustomerTraits, SegmentMember

BATCH = 1000
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
    values = dict(zip(COLUMNS, row, strict=True))
    if isinstance(values["lifetime_value"], Decimal):
        values["lifetime_value"] = str(values["lifetime_value"])
    return {column: policy.apply(column, value) for column, value in values.items()}


def _batch_query(segment_id: int, after: int, channel: str | None) -> object:
    c, m, a = models.Customer, SegmentMember, models.Address
    own = aliased(models.Address)
    first_address = (
        select(own.id)
        .where(own.customer_id == c.id)
        .order_by(own.is_default.desc(), own.id)
        .limit(1)
        .correlate(c)
        .scalar_subquery()
    )
    statement = (
        select(
            c.id,
            c.email,
            c.phone,
            c.first_name,
            c.last_name,
            a.country,
            a.city,
            CustomerTraits.favourite_category_by_quantity,
            CustomerTraits.lifetime_value,
            CustomerRfm.segment,
        )  # fmt: skip
        .join(m, m.customer_id == c.id)
        .outerjoin(a, a.id == first_address)
        .outerjoin(CustomerTraits, CustomerTraits.customer_id == c.id)
        .outerjoin(CustomerRfm, CustomerRfm.customer_id == c.id)
        .where(m.segment_id == segment_id, c.id > after)
        .order_by(c.id)
        .limit(BATCH)
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
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


async def export_segment(
    sessions: Sessions, request: ExportRequest, policy: ExportPolicy
) -> AsyncIterator[bytes]:
    """The export, one encoded batch at a time (the CSV header comes first)."""
    async with sessions() as session:
        segment = await segment_by_name(session, request.segment)
    after, first = 0, True
    while True:
        async with sessions() as session:
            rows = (
                await session.execute(
                    _batch_query(segment.id, after, request.channel)  # type: ignore[call-overload]
                )
            ).all()
        if not rows and not first:
            return
        yield _encode(
            [render_export_row(r, policy) for r in rows], request.format, first
        )
        first = False
        if len(rows) < BATCH:
            return
        after = rows[-1][0]
