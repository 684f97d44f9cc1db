"""The change feed live subscriptions listen to, across replicas.

Without Redis the feed listens to this process's ``ChangeBus``. With Redis,
every change accepted here is published on one channel and every replica
(this one included) dispatches what arrives on that channel to its local
listeners, so a browser connected to replica B sees a webhook accepted by
replica A. Listeners get changes for one customer on an ``asyncio.Queue``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import datetime

import orjson
import redis.asyncio as redis

from gateway.changes.bus import ChangeBus, CustomerChange
from gateway.errors import describe

log = logging.getLogger("gateway.changes.feed")


def _encode(change: CustomerChange) -> bytes:
    return orjson.dumps(
        [change.customer_id, change.source, change.kind, change.occurred_at]
    )


def _decode(raw: bytes) -> CustomerChange:
    customer_id, source, kind, occurred_at = orjson.loads(raw)
    return CustomerChange(
        int(customer_id), str(source), str(kind), datetime.fromisoformat(occurred_at)
    )


class ChangeFeed:
    def __init__(
        self, bus: ChangeBus, redis_url: str | None = None, channel: str = "changes"
    ) -> None:
        self.bus = bus
        self.redis_url = redis_url
        self.channel = channel
        self._listeners: dict[int, set[asyncio.Queue[CustomerChange]]] = defaultdict(
            set
        )
        self._redis: redis.Redis | None = None
        self._reader: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None

    async def start(self) -> None:
        if self.redis_url is None:
            self._unsubscribe = self.bus.subscribe(self._dispatch)
            return
        self._redis = redis.Redis.from_url(self.redis_url)
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.channel)
        self._reader = asyncio.create_task(self._read(pubsub))
        self._unsubscribe = self.bus.subscribe(self._publish)

    async def aclose(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._redis is not None:
            await self._redis.aclose()

    @contextlib.asynccontextmanager
    async def listen(
        self, customer_id: int
    ) -> AsyncIterator[asyncio.Queue[CustomerChange]]:
        queue: asyncio.Queue[CustomerChange] = asyncio.Queue()
        self._listeners[customer_id].add(queue)
        try:
            yield queue
        finally:
            self._listeners[customer_id].discard(queue)
            if not self._listeners[customer_id]:
                del self._listeners[customer_id]

    async def _dispatch(self, change: CustomerChange) -> None:
        for queue in self._listeners.get(change.customer_id, ()):
            queue.put_nowait(change)

    async def _publish(self, change: CustomerChange) -> None:
        assert self._redis is not None
        await self._redis.publish(self.channel, _encode(change))

    async def _read(self, pubsub: redis.client.PubSub) -> None:
        """Dispatch what the channel carries; a Redis outage is logged and
        retried, live updates resume when Redis is back."""
        while True:
            try:
                async for message in pubsub.listen():
                    await self._dispatch(_decode(message["data"]))
            except (redis.ConnectionError, OSError) as exc:
                log.warning("change feed lost Redis; retrying: %s", describe(exc))
                await asyncio.sleep(1.0)
                with contextlib.suppress(redis.ConnectionError, OSError):
                    await pubsub.subscribe(self.channel)
