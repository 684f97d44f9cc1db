"""The breaker every Redis user of a process shares::

    closed ──a failure (an error or a timeout)──▶ open ──pause──▶ one probe
      ▲                                             ▲                │
      │                                             └─ no answer: ◀──┤
      │                                                pause doubles │
      └──────────────── answered: recovery hooks run ◀───────────────┘

Closed, calls go to Redis. The first failure opens it, and from then on
``run`` answers ``DOWN`` at once, without touching the network: the caller
does what it documents for an outage (the caches read an in-process tier,
the rate limits count in process, the change feed delivers locally). One
background task drops the client's connections (each would fail once against
a restarted server, reopening the breaker) and probes (a short-lived SET,
``client.py``) after 0.25 s, then 0.5, 1, 2, 4 and every 5 s (half-open: one
probe at a time, and no request ever waits for it); its first answer closes
the breaker, wakes whoever waits for Redis, and runs the recovery hooks
(evictions made during the outage replayed, a new response cache version,
the change feed's outbox published).

Only the calls sent before the first timeout fired pay one
(``CG_REDIS_TIMEOUT``), once: redis-py's own retries are off (``client.py``),
and the connections they waited on are dropped when the breaker opens.

A failure that came half a ``CG_REDIS_TIMEOUT`` or more past the timeout
(its timer fired that late) says more about this process than about Redis:
the event loop was held (a burst of CPU work, a long pause), and a reply that
was on time may have waited in the socket until the timeout fired. The
breaker still opens (its callers were answered ``DOWN``, and the recovery
hooks must follow) but probes at once, not after the first pause: a busy
worker leaves the in-process fallback after one round trip rather than a
quarter of a second or more. A Redis really hung costs that one probe more
(it fails, and the pauses follow).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Final, TypeVar

from redis.exceptions import RedisClusterException, RedisError

from gateway import metrics
from gateway.errors import describe

log = logging.getLogger("gateway.shared_redis")

T = TypeVar("T")

Probe = Callable[[], Awaitable[object]]
Hook = Callable[[], Awaitable[None]]

HELD = 1.5
"""A failure this many ``CG_REDIS_TIMEOUT`` after its call began came from a
held event loop (its timer fired half a timeout late or more)."""

FAILURES = (RedisError, RedisClusterException, OSError)
"""What counts against Redis: redis-py's errors (its ``TimeoutError`` and
``ConnectionError`` included), a cluster's that are not among them (no node
reachable to read the topology from, a slot no master serves) and a
socket's own."""


class Down(enum.Enum):
    DOWN = "down"


DOWN: Final = Down.DOWN
"""``run``'s answer when Redis was skipped or just failed."""


def pauses(first: float, longest: float) -> Iterator[float]:
    """The waits before each probe: ``first``, doubling, at most ``longest``."""
    pause = first
    while True:
        yield pause
        pause = min(pause * 2, longest)


class RedisBreaker:
    def __init__(
        self,
        probe: Probe,
        *,
        reset: Hook | None = None,
        first_pause: float = 0.25,
        max_pause: float = 5.0,
        timeout: float | None = None,
    ) -> None:
        """``probe`` answers when Redis does; ``reset`` drops the client's
        connections when an outage begins, so none that broke is reused;
        ``timeout`` is the client's (``CG_REDIS_TIMEOUT``): a call failing
        1.5 times that long after it began waited on the event loop."""
        self._probe = probe
        self._reset = reset
        self.first_pause = first_pause
        self.max_pause = max_pause
        self.timeout = timeout
        self.outages = 0
        """How many times the breaker opened: a user holding something that
        an outage may have broken (a subscription) compares it."""
        self._closed = asyncio.Event()
        self._closed.set()
        self._opened_at = 0.0
        self._skipped = 0
        self._probes: set[asyncio.Task[None]] = set()
        self._hooks: list[Hook] = []
        metrics.REDIS_UP.set(1)

    @property
    def closed(self) -> bool:
        """Whether Redis is in use (else every ``run`` answers ``DOWN``)."""
        return self._closed.is_set()

    def on_recovery(self, hook: Hook) -> None:
        """Run ``hook`` each time Redis is back, after the breaker closed."""
        self._hooks.append(hook)

    async def run(self, operation: str, call: Callable[[], Awaitable[T]]) -> T | Down:
        """``call``'s answer, or ``DOWN``: skipped while open, or failed now
        (which opens the breaker)."""
        if not self.closed:
            self._skipped += 1
            metrics.REDIS_SKIPPED.labels(operation=operation).inc()
            return DOWN
        started = time.monotonic()
        try:
            return await call()
        except FAILURES as exc:
            self.failed(operation, exc, waited=time.monotonic() - started)
            return DOWN

    def failed(self, operation: str, exc: BaseException, waited: float = 0.0) -> None:
        """Count a failure of a call that took ``waited`` seconds; the first
        one while closed opens the breaker."""
        metrics.REDIS_ERRORS.labels(operation=operation).inc()
        if not self.closed:
            return  # a call that was on the wire when Redis died
        self._closed.clear()
        self.outages += 1
        self._opened_at = time.monotonic()
        self._skipped = 0
        metrics.REDIS_UP.set(0)
        held = self.timeout is not None and waited >= HELD * self.timeout
        log.warning(
            "Redis failed (%s, %s): skipped, and answered in process, until a "
            "probe finds it back%s",
            operation,
            describe(exc),
            f" (probing at once: the event loop was held, the call took "
            f"{waited * 1000:.0f} ms)"
            if held
            else "",
        )
        probe = asyncio.get_running_loop().create_task(
            self._probe_until_up(at_once=held)
        )
        self._probes.add(probe)
        probe.add_done_callback(self._probes.discard)

    async def wait_closed(self) -> None:
        """Return once Redis is in use (at once when it is)."""
        await self._closed.wait()

    async def _probe_until_up(self, *, at_once: bool = False) -> None:
        if self._reset is not None:
            with contextlib.suppress(*FAILURES):
                await self._reset()
        waits = pauses(self.first_pause, self.max_pause)
        for pause in itertools.chain([0.0], waits) if at_once else waits:
            await asyncio.sleep(pause)
            try:
                await self._probe()
            except FAILURES:
                continue
            break
        self._closed.set()
        metrics.REDIS_UP.set(1)
        log.warning(
            "Redis is back after %.1f s; %d calls were answered in process",
            time.monotonic() - self._opened_at,
            self._skipped,
        )
        for hook in list(self._hooks):
            try:
                await hook()
            except Exception as exc:  # one broken hook must not stop the others
                log.error("Redis recovery hook failed: %s", describe(exc))

    async def aclose(self) -> None:
        for probe in list(self._probes):
            probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probe
