"""The read-through cache of connector results.

Values live in a ``CacheBackend`` (``gateway.cache.backends``: Redis, or an
in-process LRU). Reads are batched (one ``MGET`` per loader batch), values are
compact JSON written by pydantic from the canonical models, and every key
carries a version derived from the shape of what it stores, so a changed model
never reads old bytes::

    cg:<namespace>:<version>:{<key>}        (its lock: the same, then ``:lock``)

A namespace given ``pseudonyms`` (every namespace of ``build_caches``) names
a key by its keyed hash instead (``gateway.shared_redis.pseudonyms``): its
keys are upstream ids, and a PostHog distinct id is often an email. The braces
are a Redis Cluster hash tag: a value and its lock share a slot, and the keys
of a batch spread over the cluster (its ``MGET`` is sent per slot). Every
read, lock, write and eviction goes through ``ReadThrough.key``, so an
eviction by external id finds what a read stored.

``ReadThrough.load_many`` is what loaders call: cached values come back at once;
misses are fetched in one upstream call. Concurrent misses of one key share one
fetch: within a process through shared futures (one caller reads a key, the
others of the process share its read and its fetch), across replicas through a
short Redis lock (``SET NX PX``) — a replica that finds the lock taken waits
briefly for the value instead of calling upstream too. The read itself takes
the lock of each key it finds empty (``CacheBackend.read_or_acquire``: one
script, one round trip), so the caller holding a key's lock is the one its
process shares; a lock taken apart (a stale value, a Redis Cluster's batch
over several slots) is taken together with a read of its key (one pipeline),
so a fetch that ended between a caller's miss and its lock — lock already
released, value stored — is read, not repeated.

What a miss fetched is stored and its lock released in one round trip, values
first (``CacheBackend.store_and_release``), so a replica never finds the lock
free and the value absent. A lock holds a token of its fetch's own, and the
store lands only where the lock still holds it: an eviction (``forget``)
deletes a value's lock with it, so a fetch that read the upstream before a
change and ends after the change's eviction stores nothing. A store may
therefore land at any time after its fetch: inside
``gateway.cache.writes.deferred_writes()`` it runs beside the rest of the
request, and after the response is sent; the fetch stays shared in-process
until it is stored.

With Redis, a read in flight may hold what an upstream said before a change
that another replica accepted: that replica's eviction reaches Redis, not
this process's shared reads. So a caller whose call scope is fresh from a
moment after the read began (``connectors.scope.fresh_from``: a request
begun later, or one that read its cached versions later) takes its value
only once it was stored under the lock its fetch took before calling
upstream, by a store sent after the caller's moment (``Sharing.stored``): an
eviction before that store would have deleted the lock and refused it. A
read vouched for by no such store (a hit, a store refused, or sent before
the caller's moment, an eviction possibly after it) the caller reads again
itself, and the callers left so share that read. A shared read that failed
fails its sharers alike; one given up (its caller cancelled) is read again.

Stale-if-error: each value is stored with the time it was fetched
(``<fetched at>|<json>``) and kept ``max_stale`` seconds past its TTL. Past
the TTL it is a miss like any other; but when the fetch that should replace
it fails for a reason that may pass (``ConnectorError.transient``: the
upstream down, slow, unreadable, rate limited, its budget spent or its
breaker open), ``load_or_last_good`` answers it instead, noting it in the
call scope (``connectors.scope.note_stale``) so the response can say so.
Every wait on another caller's fetch ends by the call scope's deadline.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import orjson
from pydantic import TypeAdapter

from connectors.errors import ConnectorError, UpstreamTimeout
from connectors.scope import fresh_from, note_stale, time_left
from gateway import metrics
from gateway.cache.backends import CacheBackend
from gateway.cache.decoded import DecodedValues
from gateway.cache.writes import write

V = TypeVar("V")
T = TypeVar("T")

MAPPING_VERSION = 1
"""Bump when a connector's mapping changes what a model's fields mean."""
ENTRY_FORMAT = b"<fetched at>|<json>"
"""How a value is stored; part of every key's version."""


@functools.lru_cache(maxsize=64)
def shape_version(adapter: TypeAdapter[Any]) -> str:
    """A short hash of the JSON schema of what a namespace stores (once per
    adapter: ``gateway.cache.namespaces.adapter`` keeps one per type)."""
    schema = orjson.dumps(adapter.json_schema(), option=orjson.OPT_SORT_KEYS)
    versions = str(MAPPING_VERSION).encode() + ENTRY_FORMAT
    return hashlib.sha1(schema + versions).hexdigest()[:8]


Fetch = Callable[[Sequence[str]], Awaitable[Mapping[str, V]]]
Fresh = Callable[[str, V], bool]
"""Whether a cached value answers this request (a window of 5 orders does not
answer a request for 20); stale values are fetched again and overwritten."""


class Abandoned(Exception):
    """A shared read given up by its caller (cancelled): its sharers read
    the key themselves."""


@dataclass(slots=True)
class Sharing(Generic[V]):
    """A read of one key (and its fetch, if it missed) that this process's
    other callers share until what it fetched is stored."""

    value: asyncio.Future[V]
    began: float
    """``time.monotonic()`` before the read was sent."""
    stored: asyncio.Future[float | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    """When the fetched value's store was sent (``time.monotonic()``), if it
    landed under the lock taken before the fetch: no eviction came between
    the fetch and then. ``None``: not stored (a hit, refused, failed). Set
    once settled."""


class ReadThrough(Generic[V]):
    """One cached namespace (e.g. Shopify orders by customer gid)."""

    def __init__(
        self,
        backend: CacheBackend,
        namespace: str,
        adapter: TypeAdapter[V],
        ttl: float,
        *,
        max_stale: float = 0.0,
        lock_ttl: float = 2.0,
        prefix: str = "cg",
        pseudonyms: Callable[[str], str] | None = None,
    ) -> None:
        self.backend = backend
        self.namespace = namespace
        self.source = namespace.split(".")[0]
        """The upstream the namespace's values come from."""
        self.adapter = adapter
        self.ttl = ttl
        self.max_stale = max_stale
        self.lock_ttl = lock_ttl
        self.prefix = f"{prefix}:{namespace}:{shape_version(adapter)}:"
        self.pseudonyms = pseudonyms
        self._inflight: dict[str, Sharing[V]] = {}
        self._decode = DecodedValues(self._decoded)
        """``(fetched at, value)`` of a stored entry; the same bytes read
        again are not decoded again (``gateway.cache.decoded``)."""

    def key(self, key: str) -> str:
        """The backend's name for ``key``."""
        name = self.pseudonyms(key) if self.pseudonyms is not None else key
        return f"{self.prefix}{{{name}}}"

    def entry(self, value: V, fetched_at: float) -> bytes:
        """What is stored for ``value`` read from upstream at ``fetched_at``."""
        return b"%.3f|" % fetched_at + self.adapter.dump_json(value)

    def _decoded(self, raw: bytes) -> tuple[float, V]:
        at, _, body = raw.partition(b"|")
        return float(at), self.adapter.validate_json(body)

    def _current(
        self, key: str, raw: bytes | None, fresh: Fresh[V] | None
    ) -> tuple[V] | None:
        """The stored value (in a 1-tuple: it may be ``None`` itself) if it is
        within its TTL and answers the request."""
        if raw is None:
            return None
        at, value = self._decode(raw)
        if time.time() - at > self.ttl or (fresh is not None and not fresh(key, value)):
            return None
        return (value,)

    async def load_or_last_good(
        self,
        keys: Sequence[str],
        fetch: Fetch[V],
        default: V,
        fresh: Fresh[V] | None = None,
    ) -> list[V | ConnectorError]:
        """``load_many``; but when the fetch fails for a reason that may pass,
        each key gets its last good value that ``fresh`` accepts (no older
        than TTL + ``max_stale``, noted as stale) or, without one, the error."""
        try:
            return list(await self.load_many(keys, fetch, default, fresh))
        except ConnectorError as error:
            if not error.transient or self.max_stale <= 0:
                raise
            failed = error
        last = await self.last_good(keys, fresh)
        return [last.get(k, failed) for k in keys]

    async def last_good(
        self, keys: Sequence[str], fresh: Fresh[V] | None = None
    ) -> dict[str, V]:
        """The last good values of ``keys`` (no older than TTL + ``max_stale``)
        that ``fresh`` accepts, noted as stale: what answers while the
        upstream fails. Without ``fresh``, any: a window of 5 orders, where a
        page of 20 was asked, shows what it holds."""
        if self.max_stale <= 0:
            return {}
        raw = await self.backend.get_many([self.key(k) for k in keys])
        oldest = time.time() - self.ttl - self.max_stale
        found: dict[str, V] = {}
        for key, value in zip(keys, raw, strict=True):
            if value is not None:
                at, cached = self._decode(value)
                if at >= oldest and (fresh is None or fresh(key, cached)):
                    found[key] = cached
                    note_stale(self.source, at)
        metrics.STALE_ANSWERS.labels(source=self.source).inc(len(found))
        return found

    async def load_many(
        self,
        keys: Sequence[str],
        fetch: Fetch[V],
        default: V,
        fresh: Fresh[V] | None = None,
    ) -> list[V]:
        """Values for ``keys``; ``fetch`` gets the misses (absent → ``default``)
        and the cached values ``fresh`` rejects. A key another caller of this
        process is reading or fetching is shared, not read again; the others
        are read, each lock taken as its key is found empty
        (``CacheBackend.read_or_acquire``), so the caller that reads a key is
        the one that holds its lock."""
        values, hits = await self._load(
            list(dict.fromkeys(keys)), fetch, default, fresh
        )
        requests = metrics.CACHE_REQUESTS
        metrics.labelled(requests, source=self.namespace, result="hit").inc(hits)
        metrics.labelled(requests, source=self.namespace, result="miss").inc(
            len(keys) - hits
        )
        return [values[k] for k in keys]

    async def _load(
        self, keys: list[str], fetch: Fetch[V], default: V, fresh: Fresh[V] | None
    ) -> tuple[dict[str, V], int]:
        """``load_many``'s values of distinct ``keys``, and how many were read
        from the cache by this caller."""
        shared = {k: self._inflight[k] for k in keys if k in self._inflight}
        mine = [k for k in keys if k not in shared]
        values, hits = (
            await self._read(mine, fetch, default, fresh) if mine else ({}, 0)
        )
        since = fresh_from() if self.backend.shared else None
        unread, outgrown = [], []
        for key, sharing in shared.items():
            try:
                value = await self._joined(sharing.value)
            except Abandoned:
                unread.append(key)
                continue
            if since is not None and sharing.began < since:
                stored = await self._joined(sharing.stored)
                if stored is None or stored < since:  # vouched for by no store
                    unread.append(key)
                    continue
            if fresh is None or fresh(key, value):
                values[key] = value
            else:  # another caller's fetch answered a smaller request
                outgrown.append(key)
        if unread:  # read again: shared by those left unvouched with this caller
            again, found = await self._load(unread, fetch, default, fresh)
            values.update(again)
            hits += found
        if outgrown:
            token = secrets.token_hex(8)
            regrown, new, locks = await self._fetch_locked(
                outgrown, fetch, default, fresh, token
            )
            values.update(regrown)
            await write(self._store(new, locks, token))
        return values, hits

    async def _read(
        self, keys: list[str], fetch: Fetch[V], default: V, fresh: Fresh[V] | None
    ) -> tuple[dict[str, V], int]:
        """The values of ``keys``, shared with this process's other callers
        until stored: read, the misses fetched under their locks; and how
        many were read from the cache."""
        names = [self.key(k) for k in keys]
        loop = asyncio.get_running_loop()
        began = time.monotonic()
        sharings = {k: Sharing(loop.create_future(), began) for k in keys}
        self._inflight.update(sharings)
        new: dict[str, V] = {}
        locks: dict[str, str] = {}
        token = secrets.token_hex(8)
        every = {f"{name}:lock": name for name in names}
        answered = False
        try:
            claims = await self.backend.read_or_acquire(every, self._lock_life(), token)
            answered = True
            values: dict[str, V] = {}
            taken: dict[str, str] = {}
            for key, name, (held, raw) in zip(keys, names, claims, strict=True):
                if current := self._current(key, raw, fresh):
                    values[key] = current[0]
                    if held:  # read again with its lock: a fetch had just ended
                        locks[f"{name}:lock"] = name
                elif held:
                    taken[key] = f"{name}:lock"
            hits = len(values)
            if missing := [k for k in keys if k not in values]:
                fetched, new, mine = await self._fetch_locked(
                    missing, fetch, default, fresh, token, taken
                )
                values.update(fetched)
                locks.update(mine)
            for key, sharing in sharings.items():
                sharing.value.set_result(values[key])
        except BaseException as exc:
            shown = exc if isinstance(exc, Exception) else Abandoned()
            for sharing in sharings.values():
                sharing.value.set_exception(shown)
                sharing.value.exception()  # mark retrieved: the caller re-raises it
            self._settled(sharings, {})
            # the read's locks (the fetch's own are released by it), or every
            # one it may have taken when its script never answered (cut short
            # while it ran): each would stall the other callers for its life
            if release := locks if answered else every:
                await write(self._store({}, release, token))
            raise
        if not locks:
            self._settled(sharings, {})
            return values, hits
        landed: dict[str, float] = {}

        async def store() -> None:
            sent = time.monotonic()
            landed.update(dict.fromkeys(await self._store(new, locks, token), sent))

        await write(store(), lambda: self._settled(sharings, landed))
        return values, hits

    async def _joined(self, future: asyncio.Future[T]) -> T:
        """Another caller's fetch, awaited no later than this caller's deadline."""
        left = time_left()
        if left is None:
            return await future
        try:
            return await asyncio.wait_for(asyncio.shield(future), max(left, 0.0))
        except TimeoutError:
            raise UpstreamTimeout(self.source, "a shared fetch ran late") from None

    def _settled(
        self, sharings: Mapping[str, Sharing[V]], landed: Mapping[str, float]
    ) -> None:
        """Stop sharing these reads: what they fetched is stored (``landed``:
        when each store was sent), refused or failed."""
        for key, sharing in sharings.items():
            if self._inflight.get(key) is sharing:
                del self._inflight[key]
            if not sharing.stored.done():
                sharing.stored.set_result(landed.get(key))

    async def _fetch_locked(
        self,
        keys: list[str],
        fetch: Fetch[V],
        default: V,
        fresh: Fresh[V] | None,
        token: str,
        taken: Mapping[str, str] | None = None,
    ) -> tuple[dict[str, V], dict[str, V], dict[str, str]]:
        """Values for ``keys``, the fetched ones among them, and the locks
        (``{lock: value key}``, holding ``token``) taken for those (``taken``:
        already, by the read that missed them): the caller stores the one
        and releases the other. A key another replica's fetch left unserved
        is locked again first (``_lock_again``); a value fetched without its
        lock (taken again by another caller meanwhile) is not stored: that
        lock's holder stores its own."""
        taken = taken or {}
        names = {k: self.key(k) for k in keys if k not in taken}
        locks = {f"{name}:lock": name for name in names.values()}
        try:
            acquired = await self.backend.acquire_many(locks, self._lock_life(), token)
        except BaseException:  # cut short: any it took would stall the others
            read = {lock: lock.removesuffix(":lock") for lock in taken.values()}
            await self._store({}, {**locks, **read}, token)
            raise
        claimed = iter(acquired)
        values: dict[str, V] = {}
        mine: dict[str, str] = {}
        waiting: list[str] = []
        for key in keys:
            if key in taken:
                lock, (held, raw) = taken[key], (True, None)
            else:
                lock, (held, raw) = f"{names[key]}:lock", next(claimed)
            # Read with the lock: a fetch that ended between this caller's
            # first read and here (its lock already gone) left its value.
            if current := self._current(key, raw, fresh):
                values[key] = current[0]
            elif not held:
                waiting.append(key)
            if held:  # released with the store (or at once)
                mine[lock] = lock.removesuffix(":lock")
        new: dict[str, V] = {}
        try:
            if waiting:
                values.update(await self._await_other_replica(waiting, fresh))
                if unserved := [k for k in waiting if k not in values]:
                    await self._lock_again(unserved, fresh, token, values, mine)
            to_fetch = [k for k in keys if k not in values]
            if to_fetch:
                fetched = await fetch(to_fetch)
                new = {k: fetched.get(k, default) for k in to_fetch}
        except BaseException:
            await self._store({}, mine, token)
            raise
        values.update(new)
        return values, new, mine

    def _lock_life(self) -> float:
        """Seconds a lock lives: ``lock_ttl``, or longer, past the caller's
        deadline (a fetch ends by then): a store whose lock expired would not
        be stored."""
        left = time_left()
        return self.lock_ttl if left is None else max(self.lock_ttl, left + 0.25)

    async def _lock_again(
        self,
        keys: list[str],
        fresh: Fresh[V] | None,
        token: str,
        values: dict[str, V],
        mine: dict[str, str],
    ) -> None:
        """Keys another fetch held and left without a value this caller can
        use (it answered a smaller window, or failed): locked again, so what
        this caller fetches is stored (into ``mine``), or read, had a fetch
        stored it meanwhile (into ``values``). A key locked again by another
        caller is fetched all the same, and not stored."""
        names = {f"{self.key(k)}:lock": self.key(k) for k in keys}
        claims = await self.backend.acquire_many(names, self._lock_life(), token)
        for key, lock, (held, raw) in zip(keys, names, claims, strict=True):
            if current := self._current(key, raw, fresh):
                values[key] = current[0]
            if held:
                mine[lock] = names[lock]

    async def _store(
        self, new: Mapping[str, V], locks: Mapping[str, str], token: str
    ) -> set[str]:
        """Store ``new`` under the ``locks`` still holding ``token`` (a value
        without one is not stored) and release them; the keys stored."""
        at = round(time.time(), 3)  # as ``entry`` writes it: read back the same
        entries = {}
        names = {}
        for key, value in new.items():
            names[self.key(key)] = key
            entry = entries[self.key(key)] = self.entry(value, at)
            self._decode.remember(entry, (at, value))
        stored = await self.backend.store_and_release(
            locks, entries, self.ttl + self.max_stale, token
        )
        return {names[name] for name in stored}

    async def _await_other_replica(
        self, keys: list[str], fresh: Fresh[V] | None
    ) -> dict[str, V]:
        """Poll for values another replica is fetching, up to the lock's life
        or the call scope's deadline, or until Redis is skipped (the value would
        not be seen). A key whose lock is gone without a value this caller can
        use is not waited for any longer: that fetch answered a smaller request
        (a window of 5 orders, where this one needs 20) or failed, and this
        caller fetches it itself."""
        wait = self.lock_ttl
        left = time_left()
        if left is not None:
            wait = min(wait, left)
        deadline = time.monotonic() + wait
        found: dict[str, V] = {}
        pending = list(keys)
        while pending and time.monotonic() < deadline and self.backend.shared:
            await asyncio.sleep(0.02)
            names = [self.key(k) for k in pending]
            # each value with its lock: stored and released in one command
            raw = await self.backend.get_many([*names, *(f"{n}:lock" for n in names)])
            fetching = []
            for key, value, lock in zip(
                pending, raw[: len(names)], raw[len(names) :], strict=True
            ):
                if current := self._current(key, value, fresh):
                    found[key] = current[0]
                elif lock is not None:
                    fetching.append(key)
            pending = fetching
        return found

    async def peek_many(self, keys: Sequence[str]) -> list[V | None]:
        """Cached values without fetching (``None`` where absent), stale ones too."""
        raw = await self.backend.get_many([self.key(k) for k in keys])
        return [None if v is None else self._decode(v)[1] for v in raw]

    async def forget(self, keys: Sequence[str]) -> None:
        """Evict ``keys``: their values and their locks, so a fetch under way
        (which read before the change that evicts) stores nothing, nor is
        shared with this process's later callers."""
        for key in keys:
            self._inflight.pop(key, None)
        pairs = [(name, f"{name}:lock") for name in map(self.key, keys)]
        await self.backend.delete_many([key for pair in pairs for key in pair])
