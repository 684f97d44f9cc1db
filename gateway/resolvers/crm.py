"""CRM mutations: decode ids, write through ``services.crm`` (which commits and
announces the change), and forget what this request's loaders read."""

from __future__ import annotations

from gateway.db import models
from gateway.db.rows import CustomerRecord
from gateway.relay.ids import customer_pk
from gateway.resolvers.context import Info
from gateway.resolvers.customer import get_customer


async def add_note(info: Info, customer_id: str, body: str) -> models.Note:
    pk = customer_pk(customer_id)
    note = await info.context.services.crm.add_note(pk, info.context.actor, body)
    info.context.loaders.forget_customer(pk)
    return note


async def tag_customer(
    info: Info, customer_id: str, tags: list[str], *, add: bool
) -> CustomerRecord:
    pk = customer_pk(customer_id)
    await info.context.services.crm.tag_customer(pk, tags, add=add)
    info.context.loaders.forget_customer(pk)
    return await get_customer(info, pk)


async def set_consent(
    info: Info, customer_id: str, channel: str, state: str, source: str
) -> models.Consent:
    pk = customer_pk(customer_id)
    consent = await info.context.services.crm.set_consent(pk, channel, state, source)
    info.context.loaders.forget_customer(pk)
    return consent


async def add_loyalty_points(
    info: Info, customer_id: str, points: int, reason: str
) -> models.LoyaltyEntry:
    pk = customer_pk(customer_id)
    entry = await info.context.services.crm.add_loyalty_points(pk, points, reason)
    info.context.loaders.forget_customer(pk)
    return entry
