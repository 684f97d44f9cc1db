"""What every webhook source shares: small JSON answers and processing a
delivery exactly once (finding or linking our customer for an upstream record
is ``gateway.identity.matching``).

Upstreams deliver at least once and retry on any non-2xx answer, so a delivery
is *claimed* by inserting its ids into ``webhook_deliveries`` (unique per
source) in the same transaction as its effects. A repeat finds the claim and is
acknowledged without effect; two copies racing each other collide on the
unique key and the loser rolls back whole. So do two *different* deliveries
racing to create or link the same customer (``customers/create`` and an order
of a new shopper at once): the loser runs again (``retry_on_conflict``) and
finds the winner's customer and link. Deliveries that keep clashing are
answered 409, which upstreams retry later. Changes are announced only after
the commit, so subscribers never hear about something that was rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import JSONResponse

from gateway.changes.bus import CustomerChange
from gateway.db import models
from gateway.db.column_limits import check_value
from gateway.db.races import is_unique_violation, retry_on_conflict
from gateway.errors import Refused
from gateway.runtime.services import Services

log = logging.getLogger("gateway.webhooks")

Work = Callable[[AsyncSession], Awaitable[list[int]]]
"""A delivery's effects inside its transaction; returns the customers it changed."""


def answer(http_status: int, /, **body: str) -> JSONResponse:
    return JSONResponse(body, status_code=http_status)


async def _seen(services: Services, source: str, keys: Sequence[str]) -> bool:
    async with services.sessions() as session:
        found = await session.scalar(
            select(models.WebhookDelivery.id)
            .where(
                models.WebhookDelivery.source == source,
                models.WebhookDelivery.delivery_id.in_(keys),
            )
            .limit(1)
        )
    return found is not None


async def process_once(
    services: Services, source: str, topic: str, keys: Sequence[str], work: Work
) -> JSONResponse:
    """Run ``work`` unless a delivery with any of ``keys`` was processed before,
    then announce a ``CustomerChange`` per changed customer. A key the claims
    table cannot hold (too long, or a NUL, which PostgreSQL refuses even in
    the look-up) is ``BadUserInput`` (400) before any query."""
    for key in keys:
        check_value(models.WebhookDelivery.__table__.c.delivery_id, key)

    async def attempt() -> list[int] | None:
        if await _seen(services, source, keys):
            return None
        async with services.sessions() as session, session.begin():
            claims = [
                models.WebhookDelivery(source=source, delivery_id=key, topic=topic)
                for key in keys
            ]
            session.add_all(claims)
            await session.flush()
            changed = await work(session)
            for claim in claims:
                claim.customer_id = changed[0] if changed else None
        return changed

    try:
        changed = await retry_on_conflict(attempt)
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        log.warning(
            "%s %s: %s kept clashing with concurrent writes", source, topic, keys
        )
        raise Refused(
            409, "CONFLICT", "Concurrent deliveries changed the same records; retry."
        ) from exc
    if changed is None:
        log.info("%s %s: duplicate delivery %s skipped", source, topic, keys)
        return answer(200, status="duplicate")
    for customer_id in changed:
        await services.changes.publish(CustomerChange(customer_id, source, topic))
    return answer(200, status="processed")
