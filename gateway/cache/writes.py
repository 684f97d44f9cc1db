"""Cache writes deferred to the end of a request, after its response.

Storing what a cache miss fetched (and releasing its lock) need not hold up the
request's next read, nor its response: inside ``deferred_writes()`` such a
write is held, and starts only as the block ends — after the response is
handed to the transport, so its encoding (a view's stored windows: ~40 KB of
JSON for PostHog's hundred events) is not on the response's path. Leaving
the block waits for every one of them. ``GraphQLApp`` opens the block around
a whole HTTP exchange, so the response is sent first and the request ends
once its writes have landed (a draining worker waits for them as for any
request). A write handed over already running (a ``Future``: the response
cache's versions being created) runs on as it is; the block waits for it too.

Until stored, a fetch stays shared in the process (``ReadThrough``); another
replica reading the same key meanwhile waits for it under the fetch's lock,
a few milliseconds longer than if it were stored as soon as fetched.

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
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar

from gateway.errors import describe

log = logging.getLogger("gateway.cache.writes")

_Held = tuple[Awaitable[object], Callable[[], None] | None]
"""A write, and what runs once it is done."""

_pending: ContextVar[list[_Held] | None] = ContextVar("cache_writes", default=None)

_landing: set[asyncio.Future[list[object]]] = set()
"""Each block's writes until they land, a block whose wait was cancelled (a
worker's forced stop) included: they land all the same."""


@asynccontextmanager
async def deferred_writes() -> AsyncIterator[None]:
    """Hold the block's cache writes; start them as it ends and wait for
    them. A write that fails is logged, not raised: what the block answered
    may be sent already, and a value not stored is only a later miss. The
    writes start however the block ends, a failure or a cancellation
    included: a write releases its fetch's lock and ends its sharing."""
    held: list[_Held] = []
    token = _pending.set(held)
    try:
        yield
    finally:
        _pending.reset(token)
        if held:  # started in the block's context, where ``write`` awaits
            landed = asyncio.gather(
                *(_started(store, done) for store, done in held),
                return_exceptions=True,
            )
            _landing.add(landed)
            landed.add_done_callback(_landed)
            await asyncio.shield(landed)


async def write(
    store: Awaitable[object], done: Callable[[], None] | None = None
) -> None:
    """Run ``store`` (then ``done``): held until the end of the
    ``deferred_writes`` block it is made in; at once outside one."""
    tasks = _pending.get()
    if tasks is None:
        try:
            await store
        finally:
            if done is not None:
                done()
        return
    tasks.append((store, done))


def _started(
    store: Awaitable[object], done: Callable[[], None] | None
) -> asyncio.Future[object]:
    task = asyncio.ensure_future(store)
    if done is not None:
        task.add_done_callback(lambda _: done())
    return task


def _landed(landed: asyncio.Future[list[object]]) -> None:
    """A block's writes, landed: each failure logged."""
    _landing.discard(landed)
    if not landed.cancelled():
        for outcome in landed.result():
            if isinstance(outcome, Exception):
                log.error("A cache write failed: %s", describe(outcome))
