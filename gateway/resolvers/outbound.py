"""Outbound webhooks through the API: plain arguments to
``gateway.outbound``. Only ``admin`` gets here (``policy.ROOT_FIELD_ROLES``, held by
the gate); each resolver checks again, so no other path reaches them."""

from __future__ import annotations

from datetime import timedelta

from gateway.auth.policy import Role
from gateway.errors import Forbidden
from gateway.outbound import deliveries, endpoints
from gateway.outbound.deliveries import DELIVERIES, REPLAYABLE, RETRYABLE, Delivery
from gateway.outbound.endpoints import ENDPOINTS, Created
from gateway.outbound.tables import DeliveryStatus, OutboundEndpoint, Outcome
from gateway.relay.ids import decode_global_id
from gateway.relay.pagination import Page, check_first
from gateway.resolvers.context import Info

__all__ = [
    "Created",
    "Delivery",
    "DeliveryStatus",
    "OutboundEndpoint",
    "Outcome",
    "create_endpoint",
    "delete_endpoint",
    "delivery_cursor",
    "delivery_page",
    "endpoint_cursor",
    "endpoint_page",
    "replay_delivery",
    "retry_delivery",
    "rotate_secret",
    "set_endpoint_enabled",
]


def _admin(info: Info) -> None:
    if info.context.role is not Role.ADMIN:
        raise Forbidden("Only the admin role manages outbound webhooks.")


def endpoint_cursor(row: OutboundEndpoint) -> str:
    return ENDPOINTS.encode((row.id,))


def delivery_cursor(found: Delivery) -> str:
    return DELIVERIES.encode((found.row.id,))


def _endpoint_pk(value: str, field: str = "id") -> int:
    return decode_global_id(value, "WebhookEndpoint", field)[1]


async def create_endpoint(
    info: Info, url: str, event_types: list[str], description: str | None
) -> Created:
    _admin(info)
    services = info.context.services
    return await endpoints.create(
        services.sessions,
        services.sealer,
        url,
        event_types,
        description,
        services.settings.outbound_allow_private_targets,
    )


async def rotate_secret(info: Info, id: str) -> Created:
    _admin(info)
    grace = timedelta(
        seconds=info.context.services.settings.outbound_secret_grace_seconds
    )
    services = info.context.services
    return await endpoints.rotate(
        services.sessions, services.sealer, _endpoint_pk(id), grace
    )


async def set_endpoint_enabled(info: Info, id: str, enabled: bool) -> OutboundEndpoint:
    _admin(info)
    return await endpoints.set_enabled(
        info.context.services.sessions, _endpoint_pk(id), enabled
    )


async def delete_endpoint(info: Info, id: str) -> None:
    _admin(info)
    await endpoints.remove(info.context.services.sessions, _endpoint_pk(id))


async def endpoint_page(
    info: Info, first: int, after: str | None
) -> Page[OutboundEndpoint]:
    _admin(info)
    services = info.context.services
    check_first(first, services.settings.max_page_size)
    return await endpoints.page(services.sessions, first, after)


async def delivery_page(
    info: Info,
    endpoint_id: str | None,
    status: DeliveryStatus | None,
    first: int,
    after: str | None,
) -> Page[Delivery]:
    _admin(info)
    services = info.context.services
    check_first(first, services.settings.max_page_size)
    pk = None if endpoint_id is None else _endpoint_pk(endpoint_id, "endpointId")
    return await deliveries.page(services.sessions, pk, status, first, after)


async def retry_delivery(info: Info, id: str) -> Delivery:
    _admin(info)
    pk = decode_global_id(id, "WebhookDelivery")[1]
    return await deliveries.requeue(info.context.services, pk, RETRYABLE)


async def replay_delivery(info: Info, id: str) -> Delivery:
    _admin(info)
    pk = decode_global_id(id, "WebhookDelivery")[1]
    return await deliveries.requeue(info.context.services, pk, REPLAYABLE)
