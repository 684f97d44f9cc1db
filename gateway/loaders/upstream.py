"""Loaders of upstream data: each batch reads the cache once (``MGET``) and
sends the misses to the connector in one call.

Keys are external ids (a Shopify gid, a Zendesk user id, a PostHog distinct id);
``ExternalIdByCustomerLoader`` turns our customer ids into those, linking
unlinked customers on the way (``gateway.identity.links``). It reads every source's
links of its batch together (one cache read, one database session), since a
customer view asks for all of them at once. Its answers — the link, or ``""``
for "unknown upstream" — are cached like upstream data, so a warm read costs
neither a database query nor an upstream look-up; a change to the customer
evicts them (``gateway.cache.invalidation``). Ahead of all that, ``prefetch``
reads a customer's stored links for every source in the request's session
as ``/graphql``'s executor starts on it (``gateway.http.fragments``): a field
then finds its link there, with no batch and no cache round trip, and only
the sources that read did not answer take the way above.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Concatenate, Generic, ParamSpec, TypeVar, cast

from aiodataloader import DataLoader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.base import Connector
from connectors.scope import call_scope, current_priority, time_left
from gateway import metrics
from gateway.cache.namespaces import link_key
from gateway.cache.read_through import ReadThrough
from gateway.db import models
from gateway.db.models import utcnow
from gateway.db.shared_session import SharedSession
from gateway.identity.links import Mark, link_by_contact, split_links, stored_links
from gateway.identity.rules import MatchRules

V = TypeVar("V")
P = ParamSpec("P")

Fetch = Callable[[Sequence[str]], Awaitable[Mapping[str, V]]]


class CachedLoader(DataLoader[str, V], Generic[V]):
    """``<What>By<external id>``: the cache first, one connector call for
    misses; when that call fails, the last good value of each key that has
    one (``ReadThrough.load_or_last_good``), the error for the others."""

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

    async def load_now(self, keys: Sequence[str]) -> list[V | BaseException]:
        """Each key's value, or its error: the keys this request has not asked
        for yet loaded here, in one batch, without waiting for the loop's next
        turns. For a loader called from another loader's batch, whose keys are
        all known already: ``load`` would send its batch three turns later
        (aiodataloader's dispatch), its cache read and upstream budget one
        write behind the other sources'. A key still loads once per request:
        a later ``load`` of it shares this one, and a failed batch is
        forgotten, as aiodataloader forgets one."""
        loop = asyncio.get_running_loop()
        new = {k: loop.create_future() for k in keys if k not in self.requested}
        self.requested.update(new)
        if new:
            try:
                values = await self.batch_load_fn(list(new))
            except BaseException as exc:
                for key in new:
                    del self.requested[key]  # forgotten: a later load tries again
                _settle(new.values(), [exc] * len(new))
                if not isinstance(exc, Exception):
                    raise  # cancelled
            else:
                _settle(new.values(), values)
        answers = await asyncio.gather(
            *(self.requested.get(k) or new[k] for k in keys), return_exceptions=True
        )
        return list(answers)

    async def batch_load_fn(self, keys: Sequence[str]) -> list[V]:
        metrics.labelled(metrics.BATCH_SIZE, loader=self.name).observe(len(keys))
        if self.store is None:
            found = await self.fetch(list(keys))
            return [found.get(k, self.default) for k in keys]
        answers = await self.store.load_or_last_good(keys, self.fetch, self.default)
        # aiodataloader fails the load of a key answered with an exception
        return cast(list[V], answers)


def _settle(
    futures: Iterable[asyncio.Future[V]], values: Sequence[V | BaseException]
) -> None:
    """Each future answered with its value, as aiodataloader answers a batch:
    an exception fails it (retrieved: its callers are told)."""
    for future, value in zip(futures, values, strict=True):
        if isinstance(value, Exception):
            future.set_exception(value)
            future.exception()
        elif isinstance(value, BaseException):
            future.cancel()
        else:
            future.set_result(value)


@dataclass(frozen=True, slots=True)
class SourceLink:
    """A customer's record in one upstream (``ExternalIdByCustomerLoader``'s key)."""

    source: str
    customer_id: int


class LinkLookupFailed(Exception):
    """An upstream look-up of some of a batch's links failed: what was found,
    and the error of each failed source. Nothing of the batch is cached."""

    def __init__(self, found: dict[str, str], errors: dict[str, Exception]) -> None:
        super().__init__(", ".join(sorted(errors)))
        self.found = found
        self.errors = errors


class StoredLinksByCustomerLoader(DataLoader[int, dict[str, str]]):
    """Every source's stored links of a batch of customers, by source, in one
    statement (two when some are unlinked): the link (a merged customer's
    several joined, ``split_links``), ``""`` for a source looked up recently
    without a match; a source neither linked nor looked up is absent. The
    ``marks`` of each link read are kept in ``marked``."""

    def __init__(
        self,
        sessions: SharedSession,
        sources: Sequence[str],
        recheck_after: timedelta,
        *,
        batch: bool,
        marks: Mapping[str, Mark] | None = None,
    ) -> None:
        super().__init__(batch=batch)
        self.sessions = sessions
        self.sources = sources
        self.recheck_after = recheck_after
        self.marks = marks
        self.marked: dict[tuple[str, str], bool] = {}
        """(source, external id) → whether its source's mark holds for it,
        for every link read (of a source with a mark)."""

    async def batch_load_fn(self, ids: Sequence[int]) -> list[dict[str, str]]:
        wanted = [(source, cid) for cid in ids for source in self.sources]
        since = utcnow() - self.recheck_after
        # urgent: every source's first call waits for these
        links, unknown, marked = await stored_links(
            lambda: self.sessions(urgent=True), wanted, since, self.marks
        )
        self.marked.update(marked)
        found: dict[int, dict[str, str]] = {cid: {} for cid in ids}
        for source, cid in unknown:
            found[cid][source] = ""
        for (source, cid), external in links.items():
            found[cid][source] = external
        return [found[cid] for cid in ids]


class ExternalIdByCustomerLoader(DataLoader[SourceLink, str | None]):
    """Every source's links of a batch of customers together: one cache read,
    one database session, look-ups upstream (per source, concurrently) only for
    customers neither linked nor recently found unknown. A failed look-up fails
    only its source's keys."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        connectors: Mapping[str, Connector],
        links: ReadThrough[str] | None,
        *,
        rules: MatchRules,
        recheck_after: float,
        batch: bool = True,
        request_sessions: SharedSession | None = None,
        marks: Mapping[str, Mark] | None = None,
    ) -> None:
        super().__init__(batch=batch)
        self.sessions = sessions
        self.rules = rules
        self.connectors = connectors
        self.links = links
        self.recheck_after = timedelta(seconds=recheck_after)
        self.stored = StoredLinksByCustomerLoader(
            request_sessions or SharedSession(sessions),
            sorted(connectors),
            self.recheck_after,
            batch=batch,
            marks=marks,
        )
        self._prefetched: dict[int, asyncio.Future[dict[str, str]]] = {}

    def prefetch(self, customer_id: int) -> asyncio.Future[dict[str, str]] | None:
        """Start reading the customer's stored links now, for every source
        (batched with the other customers prefetched in this turn): the
        executor calls it as it starts on a customer whose selection reads an
        upstream, so the links are known before the fields ask for them —
        one statement in the request's session instead of the cache's read,
        lock and store on the way to every source's first call. The read, or
        ``None`` without upstreams."""
        if not self.connectors:
            return None
        read = self._prefetched.get(customer_id)
        if read is None:
            read = self._prefetched[customer_id] = self.stored.load(customer_id)
            # retrieved even if no field asks: a failed read is read again
            read.add_done_callback(lambda done: done.cancelled() or done.exception())
        return read

    def marked(self, source: str, external_id: str) -> bool | None:
        """Whether ``source``'s mark (``marks``) holds for the record, as read
        with its customer's prefetched links; ``None`` when not read so."""
        return self.stored.marked.get((source, external_id))

    async def link(self, key: SourceLink) -> str | None:
        """The key's link: from the customer's prefetched read when it has
        the source, without a batch of its own; else loaded."""
        read = self._prefetched.get(key.customer_id)
        if read is not None:
            try:
                stored = await read
            except Exception:  # noqa: BLE001 - loaded the usual way instead
                stored = {}
            if key.source in stored:
                return stored[key.source] or None
        return await self.load(key)

    async def batch_load_fn(self, keys: Sequence[SourceLink]) -> list[str | None]:
        for source, count in Counter(k.source for k in keys).items():
            metrics.BATCH_SIZE.labels(loader=f"{source}.link").observe(count)
        names = [link_key(k.source, k.customer_id) for k in keys]
        try:
            found = await self._known(names)
        except LinkLookupFailed as failed:
            errors = dict(failed.errors)
            found = dict(failed.found)
            rest = [
                n
                for n, k in zip(names, keys, strict=True)
                if n not in found and k.source not in errors
            ]  # keys another request's look-up held: answered by now
            if rest:
                try:
                    found.update(await self._known(rest))
                except LinkLookupFailed as again:  # that look-up failed too
                    found.update(again.found)
                    errors = {**again.errors, **errors}
            answers = [
                found[n] or None if n in found else errors[k.source]
                for n, k in zip(names, keys, strict=True)
            ]  # aiodataloader fails the load of a key answered with an exception
            return cast(list[str | None], answers)
        return [found[n] or None for n in names]

    async def _known(self, names: list[str]) -> dict[str, str]:
        if self.links is None:
            return await self._resolve(names)
        values = await self.links.load_many(names, self._resolve, "")
        return dict(zip(names, values, strict=True))

    async def _resolve(self, names: Sequence[str]) -> dict[str, str]:
        """Stored links first, then upstream look-ups for the rest — except
        those looked up recently without a match."""
        wanted = [_pair(name) for name in names]
        since = utcnow() - self.recheck_after
        links, unknown, _ = await stored_links(self.sessions, wanted, since)
        unlinked: dict[str, list[int]] = defaultdict(list)
        for pair in wanted:
            if pair not in links and pair not in unknown:
                unlinked[pair[0]].append(pair[1])
        found = dict(links)
        errors: dict[str, Exception] = {}
        if unlinked:
            customers = await self._customers(unlinked)
            sources = list(unlinked)
            left = time_left()
            # Half the time left at most: one source that hangs must leave
            # the others time to read the data their links lead to.
            with call_scope(None if left is None else left / 2, current_priority()):
                results = await asyncio.gather(
                    *(self._link(s, unlinked[s], customers) for s in sources),
                    return_exceptions=True,
                )
            for source, result in zip(sources, results, strict=True):
                if isinstance(result, Exception):
                    errors[source] = result
                elif isinstance(result, BaseException):
                    raise result
                else:
                    found.update(result)
        values = {
            name: found.get(pair, "")
            for name, pair in zip(names, wanted, strict=True)
            if pair[0] not in errors
        }
        if errors:
            raise LinkLookupFailed(values, errors)
        return values

    async def _customers(
        self, unlinked: Mapping[str, list[int]]
    ) -> dict[int, models.Customer]:
        ids = {cid for customer_ids in unlinked.values() for cid in customer_ids}
        async with self.sessions() as session:
            rows = await session.scalars(
                select(models.Customer).where(models.Customer.id.in_(ids))
            )
            return {row.id: row for row in rows}

    async def _link(
        self,
        source: str,
        customer_ids: list[int],
        customers: dict[int, models.Customer],
    ) -> dict[tuple[str, int], str]:
        """Link by the strong rules; absent: customers upstream does not know."""
        known = [customers[cid] for cid in customer_ids if cid in customers]
        if not known:
            return {}
        found = await link_by_contact(
            self.sessions, self.connectors[source], known, self.rules
        )
        return {(source, cid): external for cid, external in found.items()}


def _pair(name: str) -> tuple[str, int]:
    source, customer_id = name.split(":")
    return source, int(customer_id)


class SourceLinks:
    """One source's view of ``ExternalIdByCustomerLoader``: a customer's
    external ids there — one, or a merged customer's survivor's several —
    none when upstream has no such record."""

    def __init__(self, loader: ExternalIdByCustomerLoader, source: str) -> None:
        self.loader = loader
        self.source = source

    async def load(self, customer_id: int) -> str | None:
        """The customer's oldest link."""
        found = await self.load_all(customer_id)
        return found[0] if found else None

    def marked(self, external_id: str) -> bool | None:
        """``ExternalIdByCustomerLoader.marked`` for this source."""
        return self.loader.marked(self.source, external_id)

    async def load_all(self, customer_id: int) -> list[str]:
        return split_links(
            await self.loader.link(SourceLink(self.source, customer_id)) or ""
        )


def first(values: Sequence[V]) -> V:
    """The oldest link's value: for what one person has once (a profile)."""
    return values[0]


class ByCustomer(Generic[P, V]):
    """A source's loader read by our customer id: the customer's links to the
    source first (batched with every other link the request needs), then the
    source's own loader, keyed by the external id. ``None`` when the source
    does not know the customer — so a resolver never handles links itself.
    A merged customer's survivor linked to several records of the source
    reads each (batched alike) and gets ``combine``'s one value of them."""

    def __init__(
        self,
        links: SourceLinks,
        load: Callable[Concatenate[str, P], Awaitable[V]],
        combine: Callable[[Sequence[V]], V] = first,
    ) -> None:
        self.links = links
        self.by_external_id = load
        self.combine = combine

    async def load(
        self, customer_id: int, *args: P.args, **kwargs: P.kwargs
    ) -> V | None:
        external_ids = await self.links.load_all(customer_id)
        if not external_ids:
            return None
        if len(external_ids) == 1:
            return await self.by_external_id(external_ids[0], *args, **kwargs)
        values = await asyncio.gather(
            *(self.by_external_id(e, *args, **kwargs) for e in external_ids)
        )
        return self.combine(values)
