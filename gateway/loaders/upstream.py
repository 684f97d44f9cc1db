"""Loaders of upstream data: each batch reads the cache once (``MGET``) and
sends the misses to the connector in one call.

Keys are external ids (a Shopify gid, a Zendesk user id, a PostHog distinct id);
``ExternalIdByCustomerLoader`` turns our customer ids into those, linking
unlinked customers on the way (``gateway.identity``). Its answers — the link, or
``""`` for "unknown upstream" — are cached like upstream data, so a warm read
costs neither a database query nor an upstream look-up; a change to the
customer evicts them (``gateway.invalidation``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Generic, TypeVar

from aiodataloader import DataLoader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.base import Connector
from gateway import metrics
from gateway.cache import ReadThrough
from gateway.db import models
from gateway.db.models import utcnow
from gateway.identity import checked_without_match, link_by_contact, linked_ids

V = TypeVar("V")

Fetch = Callable[[Sequence[str]], Awaitable[Mapping[str, V]]]


class CachedLoader(DataLoader[str, V], Generic[V]):
    """``<What>By<external id>``: the cache first, one connector call for misses."""

    def __init__(
        self,
        name: str,
        cache: ReadThrough[V] | None,
        fetch: Fetch[V],
        default: V,
        *,
        batch: bool = True,
    ) -> None:
        self.requested: dict[str, asyncio.Future[V]] = {}
        """This request's loads by key (aiodataloader's own cache map)."""
        super().__init__(batch=batch, cache_map=self.requested)
        self.name = name
        self.store = cache
        self.fetch = fetch
        self.default = default

    async def batch_load_fn(self, keys: Sequence[str]) -> list[V]:
        metrics.BATCH_SIZE.labels(loader=self.name).observe(len(keys))
        if self.store is None:
            found = await self.fetch(list(keys))
            return [found.get(k, self.default) for k in keys]
        return await self.store.load_many(keys, self.fetch, self.default)


class ExternalIdByCustomerLoader(DataLoader[int, str | None]):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        connector: Connector,
        links: ReadThrough[str] | None,
        *,
        recheck_after: float,
        batch: bool = True,
    ) -> None:
        super().__init__(batch=batch)
        self.sessions = sessions
        self.connector = connector
        self.links = links
        self.recheck_after = timedelta(seconds=recheck_after)

    async def batch_load_fn(self, customer_ids: Sequence[int]) -> list[str | None]:
        metrics.BATCH_SIZE.labels(loader=f"{self.connector.name}.link").observe(
            len(customer_ids)
        )
        keys = [str(cid) for cid in customer_ids]
        if self.links is None:
            found = await self._resolve(keys)
            return [found.get(k) or None for k in keys]
        known = await self.links.load_many(keys, self._resolve, "")
        return [value or None for value in known]

    async def _resolve(self, keys: Sequence[str]) -> dict[str, str]:
        """Stored links first, then upstream look-ups for the rest — except
        those looked up recently without a match."""
        source = self.connector.name
        ids = [int(k) for k in keys]
        links = await linked_ids(self.sessions, source, ids)
        unlinked = [cid for cid in ids if cid not in links]
        if unlinked:
            since = utcnow() - self.recheck_after
            known_unknown = await checked_without_match(
                self.sessions, source, unlinked, since
            )
            unlinked = [cid for cid in unlinked if cid not in known_unknown]
        found = await self._link([str(c) for c in unlinked]) if unlinked else {}
        return {k: links.get(int(k)) or found.get(k, "") for k in keys}

    async def _link(self, keys: Sequence[str]) -> dict[str, str]:
        """Link by email/phone; ``""`` for customers upstream does not know."""
        async with self.sessions() as session:
            customers = list(
                await session.scalars(
                    select(models.Customer).where(
                        models.Customer.id.in_([int(k) for k in keys])
                    )
                )
            )
        found = await link_by_contact(self.sessions, self.connector, customers)
        return {k: found.get(int(k), "") for k in keys}
