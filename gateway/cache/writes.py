"""Cache writes deferred to the end of a request.

Storing what a cache miss fetched (and releasing its lock) need not hold up the
request's next read: inside ``deferred_writes()`` such a write runs as a task
beside the rest of the request, and leaving the block waits for every one of
them. A response is therefore never sent before what it showed is stored, so an
invalidation that follows a response still finds the value and deletes it.
Outside any block (a subscription, a background job) ``write`` awaits the write
where it is made, as before::

    async with deferred_writes():
        result = await execute(...)   # cache stores overlap the resolvers
    # every store of this request is done here
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar

_pending: ContextVar[list[asyncio.Future[object]] | None] = ContextVar(
    "cache_writes", default=None
)


@asynccontextmanager
async def deferred_writes() -> AsyncIterator[None]:
    """Run the block's cache writes in the background; wait for them on exit."""
    tasks: list[asyncio.Future[object]] = []
    token = _pending.set(tasks)
    try:
        yield
    finally:
        _pending.reset(token)
        while tasks:  # a write's callback never adds one, but be exact
            batch = list(tasks)
            tasks.clear()
            await asyncio.gather(*batch)


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
