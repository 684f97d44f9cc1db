"""Whole responses a worker keeps in its own memory, checked against Redis.

A stored answer (``gateway.cache.responses``) is immutable under the versions
it was stored under: whoever reads it while those versions are current gets
the same bytes. So the worker that stored or read an entry keeps it here, and
a later hit asks Redis for the current versions only — not for the entry, whose
bytes Redis would copy out of its Lua script and over the socket on every hit
(a page of 50 customers is ~20–40 KB: ~60 µs of Redis's CPU per hit, and
more of the worker's). A change through any replica moves a version in Redis,
so it is seen at once, as before; the copy is then never served again.

A copy is served only within the response cache's TTL of the time it was
stored (each entry's header says when), as its Redis entry would be. Copies are
kept oldest first: a new one pushes out the oldest over the byte budget
(``CG_RESPONSE_CACHE_HELD_MB``), and every TTL those past it go, traffic or
not. An erasure handled here drops them all; in the other workers, what the
erased customers' copies showed is unservable at once (their versions moved)
and gone within two TTLs.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass

from gateway.cache.fragments import Shown


@dataclass(frozen=True, slots=True)
class Held:
    """A stored answer as this worker read it."""

    versions: tuple[str, ...]
    """The versions it was stored under."""
    shown: Shown
    body: bytes
    at: float
    """When it was stored (epoch seconds, the storing worker's clock)."""


class HeldEntries:
    """Entries by key, oldest first, within ``budget`` bytes and ``ttl`` seconds."""

    def __init__(self, budget: int, ttl: float) -> None:
        self.budget = budget
        self.ttl = ttl
        self._entries: OrderedDict[str, Held] = OrderedDict()
        self._bytes = 0
        self._pruning: asyncio.TimerHandle | None = None

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def get(self, key: str, now: float) -> Held | None:
        """The entry held at ``key`` while within its TTL; dropped past it."""
        held = self._entries.get(key)
        if held is not None and now - held.at >= self.ttl:
            self._drop(key)
            return None
        return held

    def keep(self, key: str, held: Held, now: float) -> None:
        """Hold ``held`` at ``key`` (replacing what was there), unless it is
        past its TTL or alone bigger than the budget; then make room."""
        if key in self._entries:
            self._drop(key)
        if now - held.at >= self.ttl or len(held.body) > self.budget:
            return
        self._entries[key] = held
        self._bytes += len(held.body)
        while self._bytes > self.budget:
            self._drop(next(iter(self._entries)))
        self.prune(now)

    def prune(self, now: float | None = None) -> None:
        """Drop the entries past their TTL from the oldest on; while any is
        left, do it again a TTL later (in an event loop: a worker's)."""
        now = time.time() if now is None else now
        while self._entries:
            oldest_key, oldest = next(iter(self._entries.items()))
            if now - oldest.at < self.ttl:
                break
            self._drop(oldest_key)
        if self._entries and self._pruning is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._pruning = loop.call_later(self.ttl, self._pruned)

    def _pruned(self) -> None:
        self._pruning = None
        self.prune()

    def drop(self, key: str) -> None:
        if key in self._entries:
            self._drop(key)

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0
        if self._pruning is not None:
            self._pruning.cancel()
            self._pruning = None

    @property
    def size(self) -> int:
        """Bytes of the bodies held."""
        return self._bytes

    def _drop(self, key: str) -> None:
        held = self._entries.pop(key)
        self._bytes -= len(held.body)
