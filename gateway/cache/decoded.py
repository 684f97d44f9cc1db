"""Values decoded from a cache namespace's stored bytes, remembered by those
bytes, so a value read again unchanged is not decoded again.

A view that executes reads its upstream values from the cache (Redis, or the
in-process LRU) as bytes; decoding them into the canonical models is
pydantic's ``validate_json`` over the whole value — 20 orders with their line
items, 100 events — and was 8 % of an executed 360 view's instructions
(docs/benchmarks.md, "Decoded values, statements built once…"). The same
bytes decode to the same value, so the value is kept here, keyed by the bytes
themselves (their hash is computed once per read, microseconds against the
decoding's milliseconds). A changed value is other bytes: nothing here is ever stale,
only evicted, least recently used first, past ``budget`` stored bytes.

The values are the connectors' frozen dataclasses, shared between requests as
a fetch in flight already shares them (``ReadThrough._inflight``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

BUDGET = 2 * 1024 * 1024
"""Stored bytes a namespace remembers decoded values for, per process: ~90
rich customers' windows of 20 full orders (23 KB each). Decoded, the models
take 1.5–2.3 times their bytes, so a namespace holds at most ~7 MB."""


class DecodedValues(Generic[T]):
    """One namespace's decoded values by their stored bytes."""

    def __init__(self, decode: Callable[[bytes], T], budget: int = BUDGET) -> None:
        self._decode = decode
        self.budget = budget
        self._values: OrderedDict[bytes, T] = OrderedDict()
        self._size = 0

    def __call__(self, raw: bytes) -> T:
        """``raw`` decoded: remembered, or decoded now and remembered."""
        values = self._values
        try:
            value = values[raw]
        except KeyError:
            value = self._decode(raw)
            self.remember(raw, value)
            return value
        values.move_to_end(raw)
        return value

    def remember(self, raw: bytes, value: T) -> None:
        """Keep ``value`` as what ``raw`` decodes to (a value just stored as
        ``raw`` is then not decoded when it is read back)."""
        if len(raw) > self.budget:
            return
        values = self._values
        if raw in values:
            values.move_to_end(raw)
            return
        values[raw] = value
        self._size += len(raw)
        while self._size > self.budget:
            old, _ = values.popitem(last=False)
            self._size -= len(old)
