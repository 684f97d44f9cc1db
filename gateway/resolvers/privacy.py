"""Data subject requests through the API: plain arguments to
``gateway.privacy``. Only ``admin`` gets here (``policy.ROOT_FIELD_ROLES``,
held by the gate); each resolver checks again, so no other path reaches them."""

from __future__ import annotations

from gateway.auth.policy import Role
from gateway.errors import Forbidden
from gateway.privacy import requests
from gateway.privacy.requests import Request, SourceState
from gateway.relay.ids import customer_pk, decode_global_id
from gateway.resolvers.context import Info

__all__ = ["Request", "SourceState", "erase_customer", "export_customer", "read"]


def _admin(info: Info) -> None:
    if info.context.role is not Role.ADMIN:
        raise Forbidden("Only the admin role handles privacy requests.")


async def erase_customer(info: Info, id: str) -> Request:  # noqa: A002
    _admin(info)
    services = info.context.services
    request_id = await requests.erase(
        services.sessions, services.jobs, customer_pk(id, "id"), info.context.actor
    )
    return await requests.read(services.sessions, request_id)


async def export_customer(info: Info, id: str) -> Request:  # noqa: A002
    _admin(info)
    services = info.context.services
    request_id = await requests.export(
        services.sessions, services.jobs, customer_pk(id, "id"), info.context.actor
    )
    return await requests.read(services.sessions, request_id)


async def read(info: Info, id: str) -> Request:  # noqa: A002
    _admin(info)
    request_id = decode_global_id(id, "PrivacyRequest")[1]
    return await requests.read(info.context.services.sessions, request_id)
