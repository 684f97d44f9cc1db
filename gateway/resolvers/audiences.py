"""Audience connections: through ``gateway.audiences``; NOT_CONFIGURED for
what needs Klaviyo when this deployment has no Klaviyo key."""

from __future__ import annotations

from gateway.audiences.connections import Connection
from gateway.audiences.service import Audiences, all_connections, audiences_for
from gateway.errors import NotConfigured
from gateway.resolvers.context import Info


def _audiences(info: Info) -> Audiences:
    audiences = audiences_for(info.context.services)
    if audiences is None:
        raise NotConfigured(
            "Klaviyo is not configured (CG_KLAVIYO_API_KEY).", source="klaviyo"
        )
    return audiences


async def connections(info: Info) -> list[Connection]:
    return await all_connections(info.context.services.sessions)


async def connect(info: Info, segment: str, list_id: str) -> Connection:
    return await _audiences(info).connect(segment, list_id, info.context.role)


async def disconnect(info: Info, segment: str, list_id: str) -> bool:
    await _audiences(info).disconnect(segment, list_id)
    return True
