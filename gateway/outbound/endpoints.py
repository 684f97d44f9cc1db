"""Webhook endpoints: saved, listed, rotated, disabled, enabled and deleted.

Each write checks everything first (the URL through ``targets.check_target``,
the event types, the description) and then writes in one transaction, so
bad input leaves nothing behind. A secret leaves this module only in the
answer to the write that made it (``Created``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.models import utcnow
from gateway.errors import BadUserInput, NotFound
from gateway.outbound.signing import new_secret
from gateway.outbound.tables import OutboundEndpoint
from gateway.outbound.targets import check_target
from gateway.relay.pagination import Cursor, Page
from gateway.sealing import Sealer

EVENT_TYPE = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,99}")
"""An event type as the spec's examples write them: ``customer.updated``."""
MAX_EVENT_TYPES = 100
MAX_DESCRIPTION = 500
ENDPOINTS: Cursor[tuple[int]] = Cursor("webhook_endpoints", (int,))
OPERATOR = "operator"
GONE = "gone"


@dataclass(frozen=True, slots=True)
class Created:
    """An endpoint and its secret, shown this once."""

    endpoint: OutboundEndpoint
    secret: str


def check_event_types(values: Sequence[str], field: str = "eventTypes") -> list[str]:
    if len(values) > MAX_EVENT_TYPES:
        raise BadUserInput(
            f"`{field}` may list at most {MAX_EVENT_TYPES} types.", field=field
        )
    for value in values:
        if not EVENT_TYPE.fullmatch(value):
            raise BadUserInput(
                f"`{field}` holds a type that is not lower-case letters, digits,"
                " `.`, `_` or `-` (at most 100).",
                field=field,
            )
    return sorted(set(values))


def _check_description(value: str | None) -> str | None:
    if value is not None and len(value) > MAX_DESCRIPTION:
        raise BadUserInput(
            f"`description` must be at most {MAX_DESCRIPTION} characters.",
            field="description",
        )
    return value or None


async def create(
    sessions: async_sessionmaker[AsyncSession],
    sealer: Sealer,
    url: str,
    event_types: Sequence[str],
    description: str | None,
    allow_private: bool,
) -> Created:
    secret = new_secret()
    endpoint = OutboundEndpoint(
        url=await check_target(url, allow_private),
        event_types=check_event_types(event_types),
        description=_check_description(description),
        secret=sealer.seal(secret),
        enabled=True,
        created_at=utcnow(),
    )
    async with sessions() as session, session.begin():
        session.add(endpoint)
    return Created(endpoint=endpoint, secret=secret)


async def rotate(
    sessions: async_sessionmaker[AsyncSession],
    sealer: Sealer,
    endpoint_id: int,
    grace: timedelta,
) -> Created:
    """A new secret; the current one keeps signing (beside it) for ``grace``."""
    secret = new_secret()
    async with sessions() as session, session.begin():
        endpoint = await _get(session, endpoint_id)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = utcnow() + grace
        endpoint.secret = sealer.seal(secret)
    return Created(endpoint=endpoint, secret=secret)


async def set_enabled(
    sessions: async_sessionmaker[AsyncSession], endpoint_id: int, enabled: bool
) -> OutboundEndpoint:
    async with sessions() as session, session.begin():
        endpoint = await _get(session, endpoint_id)
        endpoint.enabled = enabled
        endpoint.disabled_reason = None if enabled else OPERATOR
    return endpoint


async def remove(sessions: async_sessionmaker[AsyncSession], endpoint_id: int) -> None:
    """The endpoint and, by cascade, its deliveries and their log."""
    async with sessions() as session, session.begin():
        gone = await session.execute(
            delete(OutboundEndpoint)
            .where(OutboundEndpoint.id == endpoint_id)
            .returning(OutboundEndpoint.id)
        )
        if gone.first() is None:
            raise _not_found()


async def page(
    sessions: async_sessionmaker[AsyncSession], first: int, after: str | None
) -> Page[OutboundEndpoint]:
    """Oldest first, by id."""
    query = select(OutboundEndpoint).order_by(OutboundEndpoint.id).limit(first + 1)
    if after is not None:
        (last,) = ENDPOINTS.decode(after)
        query = query.where(OutboundEndpoint.id > last)
    async with sessions() as session:
        rows = (await session.scalars(query)).all()
    return Page.from_rows(rows, first)


def signing_secrets(
    secret: str, previous: str | None, expires: datetime | None, now: datetime
) -> list[str]:
    """The secrets an attempt is signed with now, as stored (sealed): the
    current one, and the previous one while its grace period (until
    ``expires``) lasts."""
    if previous and expires is not None and expires > now:
        return [secret, previous]
    return [secret]


async def _get(session: AsyncSession, endpoint_id: int) -> OutboundEndpoint:
    endpoint = await session.get(OutboundEndpoint, endpoint_id)
    if endpoint is None:
        raise _not_found()
    return endpoint


def _not_found() -> NotFound:
    return NotFound("No such webhook endpoint.", argument="id")
