"""One request's database reads, sharing a session while they overlap.

The loaders of a customer view start their batches together (addresses, tags,
consents, loyalty, …). Each opening a session of its own costs a connection
check-out with its pre-ping and a rollback on return — per batch. Here the
batches that run at the same time use one session and take turns on it, so a
burst of reads costs one check-out, one ping and one rollback — and no
``BEGIN`` or ``ROLLBACK`` at all when ``sessions`` are in autocommit, as a
request's are on PostgreSQL (``Services.burst_reads``)::

    reads = SharedSession(sessions)
    async with reads() as session:        # as with an ``async_sessionmaker``
        rows = await session.scalars(statement)

The session is closed as soon as no one uses it, so no connection is held
while the request waits on upstreams, and no loaded row outlives the burst
(a later read never sees an object loaded before a write).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


class SharedSession:
    """A per-request stand-in for ``async_sessionmaker``, for reads only."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._session: AsyncSession | None = None
        self._users = 0
        self._turn = asyncio.Lock()

    def __call__(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self._use()

    @asynccontextmanager
    async def _use(self) -> AsyncIterator[AsyncSession]:
        if self._session is None:
            self._session = self.sessions()
        session = self._session
        self._users += 1
        try:
            async with self._turn:
                try:
                    yield session
                except BaseException:
                    await session.rollback()  # the next user starts clean
                    raise
        finally:
            self._users -= 1
            if self._users == 0:
                self._session = None
                await session.close()
