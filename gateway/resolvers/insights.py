"""Insights reads and writes: traits and RFM through loaders; previews,
summaries and saved segments through ``gateway.insights`` in one short session
(the summaries, previews, lists and members on the read replica, when there is
one: ``Services.reads``)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from gateway.db import models
from gateway.db.models import utcnow
from gateway.errors import Forbidden
from gateway.insights import rfm, segment_edits, segments
from gateway.insights.segment_filter import hidden_conditions
from gateway.insights.tables import CustomerRfm, CustomerTraits, Segment
from gateway.relay.pagination import Page, check_first
from gateway.resolvers.context import Info


async def traits(info: Info, customer_id: int) -> CustomerTraits | None:
    row: CustomerTraits | None = await info.context.loaders.traits_by_customer.load(
        customer_id
    )
    return row


async def customer_rfm(info: Info, customer_id: int) -> CustomerRfm | None:
    row: CustomerRfm | None = await info.context.loaders.rfm_by_customer.load(
        customer_id
    )
    return row


async def rfm_summary(info: Info) -> list[tuple[str, int, Decimal]]:
    async with info.context.services.reads() as session:
        return await rfm.rfm_summary(session)


async def preview(
    info: Info, spec: Mapping[str, Any], first: int, after: str | None
) -> tuple[int, Page[models.Customer]]:
    check_first(first, info.context.services.settings.max_page_size)
    async with info.context.services.reads() as session:
        return await segments.preview(session, spec, utcnow(), first, after)


async def create_segment(info: Info, name: str, spec: Mapping[str, Any]) -> Segment:
    async with info.context.services.sessions() as session, session.begin():
        created = await segments.create_segment(session, name, spec, utcnow())
    await info.context.services.forget_responses()  # members' timelines changed
    return created


async def update_segment(
    info: Info, name: str, new_name: str | None, spec: Mapping[str, Any] | None
) -> Segment:
    async with info.context.services.sessions() as session, session.begin():
        updated = await segment_edits.update_segment(
            session, name, utcnow(), new_name=new_name, spec=spec
        )
    await info.context.services.forget_responses()  # members' timelines changed
    return updated


async def delete_segment(info: Info, name: str) -> str:
    async with info.context.services.sessions() as session, session.begin():
        deleted = await segment_edits.delete_segment(session, name)
    await info.context.services.forget_responses()
    return deleted


async def segment(info: Info, name: str) -> Segment:
    async with info.context.services.sessions() as session:
        return await segments.segment_by_name(session, name)


async def all_segments(info: Info) -> list[Segment]:
    async with info.context.services.reads() as session:
        return await segments.all_segments(session)


async def members(
    info: Info, row: Segment, first: int, after: str | None
) -> tuple[int, Page[models.Customer]]:
    check_first(first, info.context.services.settings.max_page_size)
    role = info.context.role
    if hidden := hidden_conditions(role, row.filter):
        raise Forbidden(
            f"The {role} role may not read the members of a segment that filters"
            f" by {', '.join(hidden)}: it does not see them in full.",
            argument=hidden[0],
        )
    async with info.context.services.reads() as session:
        return await segments.members(session, row, utcnow(), first, after)
