"""Windows of a customer's newest Shopify orders or a person's newest PostHog
events, sized by what queries show.

A list of 5 orders needs the newest 5, not the customer's whole history: each
key asks for someone's newest ``size`` items, sizes are rounded up to a few
tiers (``window_size``) so that neighbouring requests share cache entries,
and one cache entry per customer or person records how many newest items it
holds — a later request for fewer is a hit, one for more reads a bigger
window and replaces it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, cast

from aiodataloader import DataLoader

from connectors.errors import ConnectorError
from gateway import metrics
from gateway.cache.read_through import ReadThrough

TIERS = (5, 10, 20, 50, 100, 250)
"""Window sizes below 250; beyond, multiples of 250."""


class Window(Protocol):
    def covers(self, size: int, /) -> bool:
        """Whether this window answers a request for the newest ``size``."""
        ...


W = TypeVar("W", bound=Window)

WindowFetch = Callable[[Mapping[str, int]], Awaitable[Mapping[str, W]]]
"""The windows of the ids asked for, each at least the size asked."""


def window_size(needed: int) -> int:
    """The tier that holds the newest ``needed`` items."""
    for tier in TIERS:
        if needed <= tier:
            return tier
    return -(-needed // TIERS[-1]) * TIERS[-1]


@dataclass(frozen=True, slots=True)
class NewestKey:
    external_id: str
    size: int
    partial: bool = False
    """Whether, while the upstream fails, a smaller last good window answers
    (a page shows what it holds): else the failure does."""


def largest(keys: Sequence[NewestKey]) -> dict[str, int]:
    """The largest size asked of each external id, in the keys' order."""
    sizes: dict[str, int] = {}
    for key in keys:
        sizes[key.external_id] = max(sizes.get(key.external_id, 0), key.size)
    return sizes


class WindowLoader(DataLoader[NewestKey, W], Generic[W]):
    """The cache first (one ``MGET``), then one connector call for the ids
    whose cached window is missing or smaller than asked. Failing: their last
    good windows as big as asked; for a ``partial`` key a smaller one too (its
    caller sees it by ``covers``); else the failure."""

    def __init__(
        self,
        name: str,
        cache: ReadThrough[W] | None,
        fetch: WindowFetch[W],
        empty: W,
        *,
        batch: bool = True,
    ) -> None:
        super().__init__(batch=batch)
        self.name = name
        self.store: ReadThrough[W] | None = cache
        self.fetch: WindowFetch[W] = fetch
        self.empty = empty
        """The window of an id the upstream does not know."""

    async def batch_load_fn(self, keys: Sequence[NewestKey]) -> list[W]:
        metrics.labelled(metrics.BATCH_SIZE, loader=self.name).observe(len(keys))
        sizes = largest(keys)

        async def read(ids: Sequence[str]) -> Mapping[str, W]:
            return await self.fetch({i: sizes[i] for i in ids})

        ids = list(sizes)
        windows: list[W | ConnectorError]
        if self.store is None:
            found = await read(ids)
            windows = [found.get(i, self.empty) for i in ids]
        else:
            windows = await self.store.load_or_last_good(
                ids, read, self.empty, lambda i, window: window.covers(sizes[i])
            )
        by_id = dict(zip(ids, windows, strict=True))
        smaller: Mapping[str, W] = {}
        if self.store is not None and (
            partial := {
                k.external_id
                for k in keys
                if k.partial and isinstance(by_id[k.external_id], ConnectorError)
            }
        ):
            smaller = await self.store.last_good(sorted(partial))
        # aiodataloader fails the load of a key answered with an exception
        return cast(
            list[W],
            [
                smaller.get(k.external_id, by_id[k.external_id])
                if k.partial
                else by_id[k.external_id]
                for k in keys
            ],
        )
