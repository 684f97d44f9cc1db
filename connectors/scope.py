"""What an upstream call runs within: its deadline and its priority, read from
a context variable, and the guard that may hold it back.

The gateway opens a scope per GraphQL operation (``call_scope``): every
upstream call the operation causes — batched by loaders, shared with another
request's fetch, retried — shares its deadline, and the cache notes in it the
values it answered stale. Work outside any scope (a sync, a backfill, a
webhook's look-up) is background work: each of its calls gets the guard's
longer ``background_deadline``::

    with call_scope(2.0, Priority.INTERACTIVE) as scope:
        result = await execute(...)
    scope.stale  # the last good values served in place of failed reads

A scope is also *fresh from* a moment (``fresh_from``): when it opened, or
later, when it read the versions what it answers will be cached under, or a
write it sent upstream answered (``fresh_from_now``). A read already under
way for another caller serves it only if that read began since: one begun
earlier may have read an upstream before a change that another replica
accepted, and whose eviction reached Redis but not this process
(``gateway.cache.read_through``), or before the scope's own write.

A scope also knows which upstreams its calls have left for (``departed``,
noted by ``UpstreamHTTP`` as each attempt is sent): whoever began reads
ahead of the work that needs them (the gateway's executor, a customer's
fields' first reads) can let them leave before running work of its own on
the event loop (``departures``).

Inside a scope, ``asking(origin)`` names what the calls made within are for
(the gateway: a GraphQL field's path); a stale answer is noted with the
origin of the read that found it. Reads batched together run in the context
of the first of them, so a batch is noted with its first asker's origin.

A ``CallGuard`` (``UpstreamHTTP.guard``) admits each attempt before it is sent
— the upstream's shared budget, its circuit breaker — and hears how it went.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Priority(StrEnum):
    """Who spends an upstream's budget first, highest first: each class
    leaves a larger reserve to the ones above it (``gateway.guard``)."""

    INTERACTIVE = "interactive"
    """Someone waits for the answer: a GraphQL operation, an embed."""
    FALLBACK = "fallback"
    """Someone waits, but the answer has a stand-in and the read is a second
    way to it (PostHog's live HogQL for a person the event mirror lacks):
    never waited for, spent only above the fallback reserve."""
    BACKGROUND = "background"
    """Sync, backfills, refreshes, webhooks' look-ups: waited for, spent only
    above the background reserve."""


_ORDER = tuple(Priority)


@dataclass(frozen=True, slots=True)
class StaleRead:
    """A cached value served past its TTL because its upstream failed."""

    source: str
    fetched_at: float
    """When the value was read from the upstream (Unix time)."""
    origin: tuple[str | int, ...] | None = None
    """What asked for the read (``asking``), when known."""


@dataclass(slots=True)
class Freshness:
    """Shared by a scope and the scopes opened inside it."""

    since: float = field(default_factory=time.monotonic)
    """``time.monotonic()`` from which a shared read must have begun."""


@dataclass(slots=True)
class Departures:
    """The upstreams a scope's calls have left for; shared by a scope and
    the scopes opened inside it."""

    sources: set[str] = field(default_factory=set)
    listeners: list[asyncio.Future[None]] = field(default_factory=list)
    """Who waits for the next departure (``departures``)."""


@dataclass(slots=True)
class CallScope:
    deadline: float | None
    """``time.monotonic()`` by which every call must have answered."""
    priority: Priority
    stale: list[StaleRead] = field(default_factory=list)
    freshness: Freshness = field(default_factory=Freshness)
    departures: Departures = field(default_factory=Departures)

    def time_left(self) -> float | None:
        if self.deadline is None:
            return None
        return self.deadline - time.monotonic()


_current: ContextVar[CallScope | None] = ContextVar("upstream_call_scope", default=None)
_origin: ContextVar[tuple[str | int, ...] | None] = ContextVar(
    "upstream_call_origin", default=None
)


@contextmanager
def call_scope(seconds: float | None, priority: Priority) -> Iterator[CallScope]:
    """Calls made inside answer within ``seconds`` (an enclosing scope's
    earlier deadline wins) at ``priority``; stale answers are noted in the
    outermost scope."""
    outer = _current.get()
    deadline = None if seconds is None else time.monotonic() + seconds
    if outer is not None and outer.deadline is not None:
        deadline = outer.deadline if deadline is None else min(deadline, outer.deadline)
    if outer is None:
        scope = CallScope(deadline, priority)
    else:
        scope = CallScope(
            deadline, priority, outer.stale, outer.freshness, outer.departures
        )
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)


def current_scope() -> CallScope | None:
    return _current.get()


def time_left() -> float | None:
    """Seconds until the current scope's deadline; ``None`` outside one."""
    scope = _current.get()
    return None if scope is None else scope.time_left()


def fresh_from() -> float | None:
    """``time.monotonic()`` from which a read shared with another caller must
    have begun to serve the current scope; ``None`` outside one (background
    work shares any)."""
    scope = _current.get()
    return None if scope is None else scope.freshness.since


def fresh_from_now() -> None:
    """What the current scope answers will be cached under versions read just
    now, or a write it sent upstream has just answered: from here on it
    shares only reads begun since (and its enclosing scopes with it)."""
    scope = _current.get()
    if scope is not None:
        scope.freshness.since = time.monotonic()


def current_priority() -> Priority:
    scope = _current.get()
    return Priority.BACKGROUND if scope is None else scope.priority


@contextmanager
def at_most(priority: Priority) -> Iterator[CallScope]:
    """Calls made inside spend at ``priority``, or at the current priority
    when that is lower (a fallback read of a sync stays background), within
    the enclosing scope's deadline."""
    lowest = max(priority, current_priority(), key=_ORDER.index)
    with call_scope(None, lowest) as scope:
        yield scope


@contextmanager
def asking(origin: tuple[str | int, ...]) -> Iterator[None]:
    """Reads made inside are for ``origin`` (a GraphQL field's path)."""
    token = _origin.set(origin)
    try:
        yield
    finally:
        _origin.reset(token)


def departed(source: str) -> None:
    """Record in the current scope that a call to ``source`` is being sent."""
    scope = _current.get()
    if scope is None:
        return
    found = scope.departures
    found.sources.add(source)
    for listener in found.listeners:
        if not listener.done():
            listener.set_result(None)


async def departures(
    reads: Collection[tuple[str, asyncio.Future[Any]]], seconds: float
) -> None:
    """Once each of ``reads`` (its source, its task) is over or a call of
    the current scope has left for its source; at most ``seconds``.
    Outside a scope at once."""
    scope = _current.get()
    if scope is None:
        return
    found = scope.departures
    deadline = time.monotonic() + seconds
    while left := [
        read
        for source, read in reads
        if not read.done() and source not in found.sources
    ]:
        wait = deadline - time.monotonic()
        if wait <= 0:
            return
        heard = asyncio.get_running_loop().create_future()
        found.listeners.append(heard)
        try:
            await asyncio.wait(
                [heard, *left], timeout=wait, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            found.listeners.remove(heard)


def note_stale(source: str, fetched_at: float) -> None:
    """Record in the current scope that a stale value answered, with the
    origin of the read (outside a scope nobody reads it, and nothing is
    kept)."""
    scope = _current.get()
    if scope is not None:
        scope.stale.append(StaleRead(source, fetched_at, _origin.get()))


class Outcome(StrEnum):
    """How an admitted attempt ended, for a circuit breaker."""

    ANSWERED = "answered"
    """The upstream answered, even with a 4xx or a 429: it is up."""
    FAILED = "failed"
    """Unreachable, 5xx, timed out, or an answer we cannot read."""
    ABANDONED = "abandoned"
    """Cancelled before the upstream answered: no verdict."""


class CallGuard(Protocol):
    """Admits or refuses each attempt of an upstream call, and hears its outcome."""

    background_deadline: float
    """Seconds each call outside any ``call_scope`` may take, retries included."""

    async def admit(
        self,
        connector: str,
        cost: float,
        priority: Priority,
        deadline: float,
        *,
        limit: str | None = None,
        hold: float = 0.0,
    ) -> None:
        """Return when the attempt may be sent (waiting no later than
        ``deadline``), or raise an ``UpstreamNotSent``. ``limit`` names an
        endpoint's own limit the call counts against too, as the budget
        ``<connector>.<limit>`` (Zendesk search's; each of Klaviyo's
        endpoints, which have no account limit). ``hold`` more tokens must be
        in the upstream's own budget, not taken: what the upstream reserves
        while the call runs (Shopify, a query's requested cost)."""
        ...

    async def settle(self, connector: str, extra: float) -> None:
        """Charge ``extra`` more (less, when negative) to the upstream's budget:
        the upstream reported what an admitted call really cost."""
        ...

    def record(self, connector: str, outcome: Outcome) -> None:
        """How an admitted attempt ended."""
        ...
