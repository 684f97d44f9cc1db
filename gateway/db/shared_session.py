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
(a later read never sees an object loaded before a write). A closed session
is as new (SQLAlchemy's ``close_resets_only``), so the request's next burst
uses it again rather than building another (~1 % of a view's CPU: a view's
reads come in three bursts).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


class SharedSession:
    """A per-request stand-in for ``async_sessionmaker``, for reads only.

    Turns go in the order asked, except that an ``urgent`` read goes before
    every read still waiting that is not: one whose answer an upstream call
    waits for (a PostHog mirror read, the customers' stored links) passes
    the profile's reads, whose answers wait for that call anyway.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._session: AsyncSession | None = None
        self._closed: AsyncSession | None = None
        """The last burst's session, closed: the next one's."""
        self._users = 0
        self._busy = False
        self._waiting: tuple[deque[asyncio.Future[None]], ...] = (deque(), deque())
        """Who waits for a turn: the urgent, then the others."""

    def __call__(
        self, *, urgent: bool = False
    ) -> AbstractAsyncContextManager[AsyncSession]:
        return self._use(urgent)

    @asynccontextmanager
    async def _use(self, urgent: bool) -> AsyncIterator[AsyncSession]:
        if self._session is None:
            self._session, self._closed = self._closed or self.sessions(), None
        session = self._session
        self._users += 1
        try:
            await self._take_turn(urgent)
            try:
                yield session
            except BaseException:
                await session.rollback()  # the next user starts clean
                raise
            finally:
                self._pass_turn()
        finally:
            self._users -= 1
            if self._users == 0:
                self._session = None
                await session.close()
                if self._closed is None:
                    self._closed = session

    async def _take_turn(self, urgent: bool) -> None:
        if not self._busy:
            self._busy = True
            return
        queue = self._waiting[0 if urgent else 1]
        turn = asyncio.get_running_loop().create_future()
        queue.append(turn)
        try:
            await turn
        except BaseException:
            if turn.done() and not turn.cancelled():
                self._pass_turn()  # given the turn, then cancelled: pass it on
            elif turn in queue:  # not yet passed over by ``_pass_turn``
                queue.remove(turn)
            raise

    def _pass_turn(self) -> None:
        for queue in self._waiting:
            while queue:
                turn = queue.popleft()
                if not turn.done():
                    turn.set_result(None)
                    return
        self._busy = False
