"""Windows of a customer's newest Shopify orders, sized by what queries show.

A list of 5 orders needs the newest 5, not the customer's whole history: each
key asks for a customer's newest ``size`` orders, sizes are rounded up to a
few tiers (``window_size``) so that neighbouring requests share cache entries,
and one cache entry per customer records how many newest orders it holds — a
later request for fewer is a hit, one for more reads a bigger window and
replaces it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, cast

from aiodataloader import DataLoader

from connectors.errors import ConnectorError
from connectors.models import OrderT, OrderWindow
from gateway import metrics
from gateway.cache.read_through import ReadThrough

TIERS = (5, 10, 20, 50, 100, 250)
"""Window sizes below 250; beyond, multiples of 250."""

WindowFetch = Callable[
    [Mapping[str, int]], Awaitable[Mapping[str, OrderWindow[OrderT]]]
]


def window_size(needed: int) -> int:
    """The tier that holds the newest ``needed`` orders."""
    for tier in TIERS:
        if needed <= tier:
            return tier
    return -(-needed // TIERS[-1]) * TIERS[-1]


@dataclass(frozen=True, slots=True)
class OrderWindowKey:
    external_id: str
    size: int


class OrderWindowByCustomerLoader(
    DataLoader[OrderWindowKey, OrderWindow[OrderT]], Generic[OrderT]
):
    """The cache first (one ``MGET``), then one connector call for customers
    whose cached window is missing or smaller than asked (failing: their
    last good windows, if as big)."""

    def __init__(
        self,
        name: str,
        cache: ReadThrough[OrderWindow[OrderT]] | None,
        fetch: WindowFetch[OrderT],
        *,
        batch: bool = True,
    ) -> None:
        super().__init__(batch=batch)
        self.name = name
        self.store: ReadThrough[OrderWindow[OrderT]] | None = cache
        self.fetch: WindowFetch[OrderT] = fetch

    async def batch_load_fn(
        self, keys: Sequence[OrderWindowKey]
    ) -> list[OrderWindow[OrderT]]:
        metrics.BATCH_SIZE.labels(loader=self.name).observe(len(keys))
        sizes: dict[str, int] = {}
        for key in keys:
            sizes[key.external_id] = max(sizes.get(key.external_id, 0), key.size)

        async def read(ids: Sequence[str]) -> Mapping[str, OrderWindow[OrderT]]:
            return await self.fetch({i: sizes[i] for i in ids})

        ids = list(sizes)
        empty: OrderWindow[OrderT] = OrderWindow(0, 0, True)
        windows: list[OrderWindow[OrderT] | ConnectorError]
        if self.store is None:
            found = await read(ids)
            windows = [found.get(i, empty) for i in ids]
        else:
            windows = await self.store.load_or_last_good(
                ids, read, empty, lambda i, window: window.covers(sizes[i])
            )
        by_id = dict(zip(ids, windows, strict=True))
        # aiodataloader fails the load of a key answered with an exception
        return cast(list[OrderWindow[OrderT]], [by_id[k.external_id] for k in keys])
