"""Customer changes: what webhooks, ingest and mutations announce.

Subscribers (cache invalidation, the live timeline) register a coroutine: a
per-change subscriber gets each change, a batch subscriber gets all the changes
of one ``publish`` call at once (so it can do one query for many customers).
A failing subscriber is logged and does not stop the others or the publisher.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from gateway.db.models import utcnow
from gateway.errors import describe

log = logging.getLogger("gateway.changes.bus")


@dataclass(frozen=True, slots=True)
class CustomerChange:
    customer_id: int
    source: str
    """``crm``, ``shopify``, ``zendesk``, ``posthog`` or ``ingest``."""
    kind: str
    """What happened, e.g. ``orders/create``, ``note_added``, ``track``."""
    occurred_at: datetime = field(default_factory=utcnow)


Subscriber = Callable[[CustomerChange], Awaitable[None]]
BatchSubscriber = Callable[[Sequence[CustomerChange]], Awaitable[None]]


class ChangeBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._batch_subscribers: list[BatchSubscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Register ``subscriber``; returns a function that unregisters it."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def subscribe_batch(self, subscriber: BatchSubscriber) -> Callable[[], None]:
        self._batch_subscribers.append(subscriber)
        return lambda: self._batch_subscribers.remove(subscriber)

    async def publish(self, *changes: CustomerChange) -> None:
        if not changes:
            return
        for batch_subscriber in list(self._batch_subscribers):
            try:
                await batch_subscriber(changes)
            except Exception as exc:  # one broken subscriber must not stop the others
                log.error(
                    "change subscriber failed for %d changes: %s",
                    len(changes),
                    describe(exc),
                )
        for subscriber in list(self._subscribers):
            for change in changes:
                try:
                    await subscriber(change)
                except Exception as exc:  # one broken subscriber must not stop others
                    log.error(
                        "change subscriber failed for customer %s (%s): %s",
                        change.customer_id,
                        change.kind,
                        describe(exc),
                    )
