"""The change feed live subscriptions listen to, across replicas.

Without Redis the feed listens to this process's ``ChangeBus``. With Redis,
every change accepted here is published on one channel (sharded pub/sub on a
Redis Cluster, ``gateway.shared_redis.channels``) and every replica
(this one included) dispatches what arrives on that channel to its local
listeners, so a browser connected to replica B sees a webhook accepted by
replica A. Listeners get changes for one customer on an ``asyncio.Queue``.

A Redis outage loses no change that can be delivered (``gateway.shared_redis``
decides when Redis is down, for every user of the process):

- while this replica is not subscribed, its own changes are delivered to its
  listeners directly, and kept (``OUTBOX`` at most) to be published when Redis
  is back, for the other replicas;
- after every resubscription each listener gets a ``RESYNC``
  change naming no source: the subscription reads every source again, so what
  other replicas accepted while this one was not listening is pushed then.

A change may thus arrive twice (delivered here, then published); listeners
read it as "look again", so a repeat costs a read, never a repeated event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from functools import partial

import orjson

from gateway.changes.bus import ChangeBus, CustomerChange
from gateway.errors import describe
from gateway.shared_redis.breaker import DOWN, FAILURES, RedisBreaker
from gateway.shared_redis.channels import Subscription, publish
from gateway.shared_redis.client import SharedRedis

log = logging.getLogger("gateway.changes.feed")

RESYNC = "resync"
"""The kind of the change a listener gets after the feed resubscribed; its
source is ``ANY_SOURCE``."""
ANY_SOURCE = "*"
OUTBOX = 10_000
"""Changes kept for publication while Redis is skipped (the newest)."""
_POLL = 1.0
"""Seconds a read of the channel waits for a message before the reader checks
that no outage happened meanwhile (and that the feed is not closing)."""
_STOP = 3 * _POLL
"""Seconds ``aclose`` waits for the reader to stop."""


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
        self, bus: ChangeBus, redis: SharedRedis | None = None, channel: str = "changes"
    ) -> None:
        self.bus = bus
        self.redis = redis
        self.channel = channel
        self._listeners: dict[int, set[asyncio.Queue[CustomerChange]]] = defaultdict(
            set
        )
        self._reader: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._subscribed = asyncio.Event()
        self._tried = asyncio.Event()
        """Set once the reader's first subscription succeeded or failed."""
        self._outbox: deque[CustomerChange] = deque(maxlen=OUTBOX)
        self._closing = False

    async def start(self) -> None:
        """Listen; with Redis, return once subscribed (or once Redis failed:
        the reader keeps trying, and changes are delivered here meanwhile)."""
        if self.redis is None:
            self._unsubscribe = self.bus.subscribe(self._dispatch)
            return
        self._unsubscribe = self.bus.subscribe(self._publish)
        self.redis.breaker.on_recovery(self._flush)
        self._reader = asyncio.create_task(self._read(self.redis))
        await self._tried.wait()

    @property
    def subscribed(self) -> bool:
        """Whether other replicas' changes reach this one now (always true
        without Redis: there are none)."""
        return self.redis is None or self._subscribed.is_set()

    async def aclose(self) -> None:
        """Stop listening. The reader is cancelled, and also told to stop: a
        cancellation swallowed inside the Redis client (seen once with redis-py
        8.2's cluster pub/sub, under load) would otherwise leave it polling,
        and a shutdown waiting for it, forever."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._reader is None:
            return
        self._closing = True
        self._reader.cancel()
        await asyncio.wait({self._reader}, timeout=_STOP)
        if not self._reader.done():
            log.warning("change feed reader still running %.0f s after close", _STOP)
        elif not self._reader.cancelled() and (failed := self._reader.exception()):
            log.error("change feed reader failed: %s", describe(failed))

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
        """Through Redis. Delivered here directly too while this replica is
        not subscribed; kept in the outbox when Redis is skipped or fails."""
        assert self.redis is not None
        redis = self.redis
        sent = await redis.breaker.run(
            "publish", partial(publish, redis, self.channel, _encode(change))
        )
        if sent is DOWN:
            self._outbox.append(change)
        if sent is DOWN or not self._subscribed.is_set():
            await self._dispatch(change)

    async def _flush(self) -> None:
        """Redis is back: publish what was accepted here meanwhile, for the
        other replicas (a change that fails again stays for next time)."""
        assert self.redis is not None
        redis = self.redis
        while self._outbox:
            message = _encode(self._outbox[0])
            sent = await redis.breaker.run(
                "publish", partial(publish, redis, self.channel, message)
            )
            if sent is DOWN:
                return
            self._outbox.popleft()

    async def _read(self, redis: SharedRedis) -> None:
        """Subscribe whenever Redis is in use, and dispatch what the channel
        carries; drop the subscription when an outage begins (the connection
        may be dead without saying so), and resync the listeners after each
        subscription (at start-up there are none)."""
        breaker = redis.breaker
        while not self._closing:
            await breaker.wait_closed()
            outages = breaker.outages
            subscription = Subscription(redis, self.channel)
            try:
                await subscription.open()
                self._subscribed.set()
                self._tried.set()
                self._resync()
                await self._relay(subscription, breaker, outages)
            except FAILURES as exc:
                breaker.failed("subscribe", exc)
            finally:
                self._subscribed.clear()
                self._tried.set()
                with contextlib.suppress(*FAILURES):
                    await subscription.aclose()

    async def _relay(
        self, subscription: Subscription, breaker: RedisBreaker, outages: int
    ) -> None:
        """Dispatch messages until the breaker opens again."""
        while breaker.outages == outages and not self._closing:
            message = await subscription.next(timeout=_POLL)
            if message is None:
                continue
            try:
                change = _decode(message)
            except (ValueError, TypeError) as exc:  # not a change of ours
                log.error("change feed skipped a malformed message: %s", describe(exc))
                continue
            await self._dispatch(change)

    def _resync(self) -> None:
        for customer_id, queues in self._listeners.items():
            change = CustomerChange(customer_id, ANY_SOURCE, RESYNC)
            for queue in queues:
                queue.put_nowait(change)
