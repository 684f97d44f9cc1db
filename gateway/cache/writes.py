"""Cache writes deferred to the end of a request, after its response.

Storing what a cache miss fetched (and releasing its lock) need not hold up the
request's next read, nor its response: inside ``deferred_writes()`` such a
write runs as a task beside the rest of the request, and leaving the block
waits for every one of them. ``GraphQLApp`` opens the block around a whole
HTTP exchange, so the response is sent first and the request ends once its
writes have landed (a draining worker waits for them as for any request).

Sending before storing is safe because a store lands only under its fetch's
own lock (``gateway.cache.read_through``): an invalidation that follows a
response deletes the lock with the value, and the late store then stores
nothing. A response's own entry is stored under the versions read before it
executed (``gateway.cache.responses``), which a change moves. Outside any
block (a subscription, a background job) ``write`` awaits the write where it
is made::

    async with deferred_writes():
        await app(scope, receive, send)   # cache stores overlap the resolvers
    # every store of this request is done here
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar

from gateway.errors import describe

log = logging.getLogger("gateway.cache.writes")

_pending: ContextVar[list[asyncio.Future[object]] | None] = ContextVar(
    "cache_writes", default=None
)


@asynccontextmanager
async def deferred_writes() -> AsyncIterator[None]:
    """Run the block's cache writes in the background; wait for them on exit.
    A write that fails is logged, not raised: what the block answered may be
    sent already, and a value not stored is only a later miss."""
    tasks: list[asyncio.Future[object]] = []
    token = _pending.set(tasks)
    try:
        yield
    finally:
        _pending.reset(token)
        while tasks:  # a write's callback never adds one, but be exact
            batch = list(tasks)
            tasks.clear()
            for outcome in await asyncio.gather(*batch, return_exceptions=True):
                if isinstance(outcome, Exception):
                    log.error("A cache write failed: %s", describe(outcome))


async def write(
    store: Awaitable[object], done: Callable[[], None] | None = None
) -> None:
    """Run ``store`` (then ``done``): in the background inside
    ``deferred_writes``, at once outside it."""
    tasks = _pending.get()
    if tasks is None:
        try:
            await store
        finally:
            if done is not None:
                done()
        return
    task = asyncio.ensure_future(store)
    if done is not None:
        task.add_done_callback(lambda _: done())
    tasks.append(task)
