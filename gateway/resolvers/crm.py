"""CRM mutations: decode ids, call ``gateway.crm``, refresh what this request
cached, and announce the change (live timelines, cache invalidation)."""

from __future__ import annotations

from gateway import crm
from gateway.changes import CustomerChange
from gateway.context import Info
from gateway.db import models
from gateway.ids import customer_pk
from gateway.resolvers.customer import get_customer


async def _changed(info: Info, pk: int, kind: str) -> None:
    info.context.loaders.forget_customer(pk)
    await info.context.services.changes.publish(CustomerChange(pk, "crm", kind))


async def add_note(info: Info, customer_id: str, body: str) -> models.Note:
    pk = customer_pk(customer_id)
    note = await crm.add_note(
        info.context.services.sessions, pk, info.context.actor, body
    )
    await _changed(info, pk, "note_added")
    return note


async def tag_customer(
    info: Info, customer_id: str, tags: list[str], *, add: bool
) -> models.Customer:
    pk = customer_pk(customer_id)
    await crm.tag_customer(info.context.services.sessions, pk, tags, add=add)
    await _changed(info, pk, "tag_added" if add else "tag_removed")
    return await get_customer(info, pk)


async def set_consent(
    info: Info, customer_id: str, channel: str, state: str, source: str
) -> models.Consent:
    pk = customer_pk(customer_id)
    consent = await crm.set_consent(
        info.context.services.sessions, pk, channel, state, source
    )
    await _changed(info, pk, "consent_changed")
    return consent


async def add_loyalty_points(
    info: Info, customer_id: str, points: int, reason: str
) -> models.LoyaltyEntry:
    pk = customer_pk(customer_id)
    entry = await crm.add_loyalty_points(
        info.context.services.sessions, pk, points, reason
    )
    await _changed(info, pk, "loyalty_changed")
    return entry
