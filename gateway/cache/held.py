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
stored (each entry's header says when), by this worker's clock, and never
longer than a TTL after this worker took it; an entry whose store time lies
ahead of this worker's clock (by more than ``CLOCK_TOLERANCE``) is not held,
so a skewed clock elsewhere cannot stretch the TTL. Copies go when their time
is up (every TTL the expired ones are dropped, traffic or not) and, over the
budget (``CG_RESPONSE_CACHE_HELD_MB``, each copy counted with its Python
objects, conservatively), the oldest first. An erasure handled here drops
them all; in the other workers, what the erased customers' copies showed is
unservable at once (their versions moved) and gone within two TTLs.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass

from gateway.cache.fragments import Shown

CLOCK_TOLERANCE = 1.0
"""Seconds an entry's store time may lie ahead of this worker's clock."""
OVERHEAD = 1024
"""Bytes counted per copy besides its body and its header's Python objects
(the key, the versions, the copy and its slot)."""


@dataclass(frozen=True, slots=True)
class Held:
    """A stored answer as this worker read it."""

    versions: tuple[str, ...]
    """The versions it was stored under."""
    shown: Shown
    body: bytes
    at: float
    """When it was stored (epoch seconds, the storing worker's clock)."""
    size: int
    """Bytes it is counted for in the budget."""

    @classmethod
    def of(
        cls,
        versions: tuple[str, ...],
        shown: Shown,
        body: bytes,
        at: float,
        header: bytes,
    ) -> Held:
        """A copy, counted as its body, 8 × its header's JSON (the versions
        and the customers shown, as Python strings, lists and ints) and
        ``OVERHEAD``."""
        return cls(versions, shown, body, at, len(body) + 8 * len(header) + OVERHEAD)


@dataclass(slots=True)
class _Slot:
    held: Held
    until: float
    """``time.monotonic()`` past which it is not served."""


class HeldEntries:
    """Copies by key, oldest first, within ``budget`` bytes and ``ttl`` seconds."""

    def __init__(self, budget: int, ttl: float) -> None:
        self.budget = budget
        self.ttl = ttl
        self._slots: OrderedDict[str, _Slot] = OrderedDict()
        self._bytes = 0
        self._pruning: asyncio.TimerHandle | None = None

    def __contains__(self, key: str) -> bool:
        return key in self._slots

    def __len__(self) -> int:
        """Copies held (some may be past their time, until pruned)."""
        return len(self._slots)

    def get(self, key: str) -> Held | None:
        """The copy held at ``key`` while its time is not up; let go past it."""
        slot = self._slots.get(key)
        if slot is None:
            return None
        if time.monotonic() >= slot.until:
            self.drop(key)
            return None
        return slot.held

    def keep(self, key: str, held: Held) -> None:
        """Hold ``held`` at ``key`` (replacing what was there) for what is left
        of its TTL, unless nothing is, its store time lies ahead of this
        worker's clock, or it alone is bigger than the budget; the oldest
        make room."""
        self.drop(key)
        now = time.time()
        left = self.ttl - max(0.0, now - held.at)
        if left <= 0 or held.at > now + CLOCK_TOLERANCE or held.size > self.budget:
            return
        self._slots[key] = _Slot(held, time.monotonic() + left)
        self._bytes += held.size
        while self._bytes > self.budget:
            self.drop(next(iter(self._slots)))
        self._schedule()

    def drop(self, key: str) -> None:
        slot = self._slots.pop(key, None)
        if slot is not None:
            self._bytes -= slot.held.size

    def clear(self) -> None:
        self._slots.clear()
        self._bytes = 0
        if self._pruning is not None:
            self._pruning.cancel()
            self._pruning = None

    def prune(self) -> None:
        """Let go of every copy whose time is up."""
        now = time.monotonic()
        for key in [k for k, slot in self._slots.items() if now >= slot.until]:
            self.drop(key)

    @property
    def size(self) -> int:
        """Bytes the copies held are counted for."""
        return self._bytes

    def _schedule(self) -> None:
        """Prune a TTL from now (in a worker's event loop), and again while
        any copy is left."""
        if self._pruning is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._pruning = loop.call_later(self.ttl, self._pruned)

    def _pruned(self) -> None:
        self._pruning = None
        self.prune()
        if self._slots:
            self._schedule()
