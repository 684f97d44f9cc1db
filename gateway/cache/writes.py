"""Cache writes deferred to the end of a request, after its response.

Storing what a cache miss fetched (and releasing its lock) need not hold up the
request's next read, nor its response: inside ``deferred_writes()`` such a
write is held, and starts only as the block ends — after the response is
handed to the transport, so its encoding (a view's stored windows: ~40 KB of
JSON for PostHog's hundred events) is not on the response's path — or once
held ``HOLD_AT_MOST`` (50 ms), for a slow request. Leaving
the block waits for every one of them. ``GraphQLApp`` opens the block around
a whole HTTP exchange, so the response is sent first and the request ends
once its writes have landed (a draining worker waits for them as for any
request). A write handed over already running (a ``Future``: the response
cache's versions being created) runs on as it is; the block waits for it too.

Until stored, a fetch stays shared in the process (``ReadThrough``); another
replica reading the same key meanwhile waits for it under the fetch's lock,
a few milliseconds longer than if it were stored as soon as fetched, 50 ms
longer at most.

Sending before storing is safe because a store lands only under its fetch's
own lock (``gateway.cache.read_through``): an invalidation that follows a
response deletes the lock with the value, and the late store then stores
nothing. A response's own entry is stored under the versions read before it
executed (``gateway.cache.responses``), which a change moves. Outside any
block (a subscription, a background job) ``write`` awaits the write where it
is made::

    async with deferred_writes():
        await app(scope, receive, send)   # cache stores held
    # every store of this request started, and done, here
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar

from gateway.errors import describe

log = logging.getLogger("gateway.cache.writes")

HOLD_AT_MOST = 0.05
"""Seconds a write waits for its response at most: past them (a slow
request, its other reads still out) the block's writes start, and those made
after start at once, so another replica does not wait on a lock for long."""

_Held = tuple[Awaitable[object], Callable[[], None] | None]
"""A write, and what runs once it is done."""


class _Block:
    """One ``deferred_writes`` block's writes: held, then started."""

    __slots__ = ("held", "started", "timer", "closed", "__weakref__")

    def __init__(self) -> None:
        self.held: list[_Held] = []
        self.started: list[asyncio.Future[object]] = []
        self.timer: asyncio.TimerHandle | None = None
        self.closed = False
        """Ended: a write made now (work the response left behind, settled
        in the background) starts at once, and lands on its own."""

    def add(self, store: Awaitable[object], done: Callable[[], None] | None) -> None:
        if self.closed:
            _landing_alone(_started(store, done, _outside()))
            return
        if self.timer is None and not self.started:  # the first: held
            self.timer = asyncio.get_running_loop().call_later(HOLD_AT_MOST, self.start)
        self.held.append((store, done))
        if self.timer is None:  # held long enough already
            self.start()

    def start(self) -> list[asyncio.Future[object]]:
        """Start what is held, in a context outside the block (a write made
        by a write is awaited where it is made); what was started."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if not self.held:
            return []
        context = _outside()
        begun = [_started(store, done, context) for store, done in self.held]
        self.held.clear()
        self.started += begun
        return begun


def _outside() -> contextvars.Context:
    context = contextvars.copy_context()
    context.run(_pending.set, None)
    return context


def _started(
    store: Awaitable[object],
    done: Callable[[], None] | None,
    context: contextvars.Context,
) -> asyncio.Future[object]:
    task = (
        asyncio.get_running_loop().create_task(store, context=context)
        if asyncio.iscoroutine(store)
        else asyncio.ensure_future(store)
    )
    if done is not None:
        task.add_done_callback(functools.partial(_then, done))
    return task


_open: weakref.WeakSet[_Block] = weakref.WeakSet()
"""The process's blocks not ended yet."""


async def land_held() -> None:
    """Start every write held in this process's blocks, and wait for those:
    a read that must fetch again a key this process fetched a moment ago
    (a bigger window than the one being stored) would otherwise wait on
    its own lock until the hold ends."""
    begun = [task for block in list(_open) for task in block.start()]
    if begun:
        await asyncio.wait(begun)


_pending: ContextVar[_Block | None] = ContextVar("cache_writes", default=None)

_landing: set[asyncio.Future[list[object]]] = set()
"""Each block's writes until they land, a block whose wait was cancelled (a
worker's forced stop) included: they land all the same."""


@asynccontextmanager
async def deferred_writes() -> AsyncIterator[None]:
    """Hold the block's cache writes (``HOLD_AT_MOST`` at most); start them as
    it ends and wait for them. A write that fails is logged, not raised: what
    the block answered may be sent already, and a value not stored is only a
    later miss. The writes start however the block ends, a failure or a
    cancellation included: a write releases its fetch's lock and ends its
    sharing."""
    block = _Block()
    token = _pending.set(block)
    _open.add(block)
    try:
        yield
    finally:
        _pending.reset(token)
        _open.discard(block)
        block.start()
        block.closed = True
        if block.started:
            landed = asyncio.gather(*block.started, return_exceptions=True)
            _landing.add(landed)
            landed.add_done_callback(_landed)
            await asyncio.shield(landed)


async def write(
    store: Awaitable[object], done: Callable[[], None] | None = None
) -> None:
    """Run ``store`` (then ``done``): held until the end of the
    ``deferred_writes`` block it is made in (``HOLD_AT_MOST`` at most); at
    once outside one."""
    block = _pending.get()
    if block is None:
        try:
            await store
        finally:
            if done is not None:
                done()
        return
    block.add(store, done)


def _landing_alone(task: asyncio.Future[object]) -> None:
    landed: asyncio.Future[list[object]] = asyncio.gather(
        *[task], return_exceptions=True
    )
    _landing.add(landed)
    landed.add_done_callback(_landed)


def _then(done: Callable[[], None], _: asyncio.Future[object]) -> None:
    done()


def _landed(landed: asyncio.Future[list[object]]) -> None:
    """A block's writes, landed: each failure logged."""
    _landing.discard(landed)
    if not landed.cancelled():
        for outcome in landed.result():
            if isinstance(outcome, Exception):
                log.error("A cache write failed: %s", describe(outcome))
