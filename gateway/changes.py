"""Customer changes: what webhooks, ingest and mutations announce.

Subscribers (cache invalidation, the live timeline) register a coroutine; each
published change is handed to every subscriber. A failing subscriber is logged
and does not stop the others or the publisher.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from gateway.db.models import utcnow

log = logging.getLogger("gateway.changes")


@dataclass(frozen=True, slots=True)
class CustomerChange:
    customer_id: int
    source: str
    """``crm``, ``shopify``, ``zendesk``, ``posthog`` or ``ingest``."""
    kind: str
    """What happened, e.g. ``orders/create``, ``note_added``, ``track``."""
    occurred_at: datetime = field(default_factory=utcnow)


Subscriber = Callable[[CustomerChange], Awaitable[None]]


class ChangeBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Register ``subscriber``; returns a function that unregisters it."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    async def publish(self, change: CustomerChange) -> None:
        for subscriber in list(self._subscribers):
            try:
                await subscriber(change)
            except Exception:  # one broken subscriber must not stop the others
                log.exception("change subscriber failed for %s", change)
