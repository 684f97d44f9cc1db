"""The read-through cache of connector results.

One interface, two backends: Redis (``redis.asyncio`` + hiredis) when
``CG_REDIS_URL`` is set, else a bounded in-process LRU with TTLs. Reads are
batched (one ``MGET`` per loader batch), values are compact JSON written by
pydantic from the canonical models, and every key carries a version derived
from the shape of what it stores, so a changed model never reads old bytes::

    cg:<namespace>:<version>:<key>

``ReadThrough.load_many`` is what loaders call: cached values come back at once;
misses are fetched in one upstream call. Concurrent misses of one key share one
fetch: within a process through shared futures, across replicas through a short
Redis lock (``SET NX PX``) — a replica that finds the lock taken waits briefly
for the value instead of calling upstream too.

Redis failures never reach clients: the cache answers "miss", the gateway goes
upstream, the failure is logged and counted, and Redis is tried again after a
short pause (the client reconnects by itself).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

import orjson
from pydantic import TypeAdapter
from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway import metrics

log = logging.getLogger("gateway.cache")

V = TypeVar("V")

MAPPING_VERSION = 1
"""Bump when a connector's mapping changes what a model's fields mean."""


class CacheBackend(Protocol):
    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    async def set_many(self, items: Mapping[str, bytes], ttl: float) -> None: ...

    async def delete_many(self, keys: Sequence[str]) -> None: ...

    async def acquire_many(self, keys: Sequence[str], ttl: float) -> list[bool]:
        """Take short locks; ``True`` where this caller holds the lock."""
        ...

    async def aclose(self) -> None: ...


class MemoryBackend:
    """A bounded LRU with per-entry expiry, for a single process."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        now = time.monotonic()
        found: list[bytes | None] = []
        for key in keys:
            entry = self._entries.get(key)
            if entry is None or entry[0] <= now:
                self._entries.pop(key, None)
                found.append(None)
            else:
                self._entries.move_to_end(key)
                found.append(entry[1])
        return found

    async def set_many(self, items: Mapping[str, bytes], ttl: float) -> None:
        expires = time.monotonic() + ttl
        for key, value in items.items():
            self._entries[key] = (expires, value)
            self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def delete_many(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._entries.pop(key, None)

    async def acquire_many(self, keys: Sequence[str], ttl: float) -> list[bool]:
        return [True] * len(keys)  # one process: in-process single-flight suffices

    async def aclose(self) -> None:
        self._entries.clear()


class RedisBackend:
    """Redis, degrading to "always miss" while it is unreachable."""

    def __init__(self, url: str, *, retry_pause: float = 1.0) -> None:
        self.redis = Redis.from_url(
            url,
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
            health_check_interval=30,
        )
        self.retry_pause = retry_pause
        self._down_until = 0.0

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, operation: str, exc: RedisError) -> None:
        """A slow answer is a miss for that batch only; a refused or broken
        connection pauses Redis use briefly, so a dead server costs no timeouts."""
        if not isinstance(exc, RedisTimeoutError):
            self._down_until = time.monotonic() + self.retry_pause
        metrics.CACHE_ERRORS.labels(operation=operation).inc()
        log.warning("redis %s failed (%s); serving from upstream", operation, exc)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys or not self._available():
            return [None] * len(keys)
        try:
            values = await self.redis.mget(list(keys))
        except RedisError as exc:
            self._failed("get", exc)
            return [None] * len(keys)
        return [v.encode() if isinstance(v, str) else v for v in values]

    async def set_many(self, items: Mapping[str, bytes], ttl: float) -> None:
        if not items or not self._available():
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, value in items.items():
                    pipe.set(key, value, px=int(ttl * 1000))
                await pipe.execute()
        except RedisError as exc:
            self._failed("set", exc)

    async def delete_many(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        try:
            await self.redis.delete(*keys)
        except RedisError as exc:
            self._failed("delete", exc)

    async def acquire_many(self, keys: Sequence[str], ttl: float) -> list[bool]:
        if not keys or not self._available():
            return [True] * len(keys)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.set(key, b"1", nx=True, px=int(ttl * 1000))
                return [bool(ok) for ok in await pipe.execute()]
        except RedisError as exc:
            self._failed("lock", exc)
            return [True] * len(keys)

    async def aclose(self) -> None:
        await self.redis.aclose()


def shape_version(adapter: TypeAdapter[Any]) -> str:
    """A short hash of the JSON schema of what a namespace stores."""
    schema = orjson.dumps(adapter.json_schema(), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha1(schema + str(MAPPING_VERSION).encode()).hexdigest()[:8]


Fetch = Callable[[Sequence[str]], Awaitable[Mapping[str, V]]]
Fresh = Callable[[str, V], bool]
"""Whether a cached value answers this request (a window of 5 orders does not
answer a request for 20); stale values are fetched again and overwritten."""


class ReadThrough(Generic[V]):
    """One cached namespace (e.g. Shopify orders by customer gid)."""

    def __init__(
        self,
        backend: CacheBackend,
        namespace: str,
        adapter: TypeAdapter[V],
        ttl: float,
        *,
        lock_ttl: float = 2.0,
        prefix: str = "cg",
    ) -> None:
        self.backend = backend
        self.namespace = namespace
        self.adapter = adapter
        self.ttl = ttl
        self.lock_ttl = lock_ttl
        self.prefix = f"{prefix}:{namespace}:{shape_version(adapter)}:"
        self._inflight: dict[str, asyncio.Future[V]] = {}

    def key(self, key: str) -> str:
        return self.prefix + key

    async def load_many(
        self,
        keys: Sequence[str],
        fetch: Fetch[V],
        default: V,
        fresh: Fresh[V] | None = None,
    ) -> list[V]:
        """Values for ``keys``; ``fetch`` gets the misses (absent → ``default``)
        and the cached values ``fresh`` rejects."""
        raw = await self.backend.get_many([self.key(k) for k in keys])
        found: dict[str, V] = {}
        for key, value in zip(keys, raw, strict=True):
            if value is not None:
                cached = self.adapter.validate_json(value)
                if fresh is None or fresh(key, cached):
                    found[key] = cached
        hits = len(found)
        metrics.CACHE_REQUESTS.labels(source=self.namespace, result="hit").inc(hits)
        metrics.CACHE_REQUESTS.labels(source=self.namespace, result="miss").inc(
            len(keys) - hits
        )
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if missing:
            found.update(await self._fill(missing, fetch, default, fresh))
        return [found[k] for k in keys]

    async def _fill(
        self, keys: list[str], fetch: Fetch[V], default: V, fresh: Fresh[V] | None
    ) -> dict[str, V]:
        shared = {k: self._inflight[k] for k in keys if k in self._inflight}
        mine = [k for k in keys if k not in shared]
        futures = {k: asyncio.get_running_loop().create_future() for k in mine}
        self._inflight.update(futures)
        try:
            values = (
                await self._fetch_locked(mine, fetch, default, fresh) if mine else {}
            )
            for key, future in futures.items():
                future.set_result(values[key])
        except BaseException as exc:
            for future in futures.values():
                future.set_exception(exc)
                future.exception()  # mark retrieved: the caller re-raises it
            raise
        finally:
            for key in mine:
                self._inflight.pop(key, None)
        outgrown = []
        for key, future in shared.items():
            value = await future
            if fresh is None or fresh(key, value):
                values[key] = value
            else:  # another caller's fetch answered a smaller request
                outgrown.append(key)
        if outgrown:
            values.update(await self._fetch_locked(outgrown, fetch, default, fresh))
        return values

    async def _fetch_locked(
        self, keys: list[str], fetch: Fetch[V], default: V, fresh: Fresh[V] | None
    ) -> dict[str, V]:
        locks = [self.key(k) + ":lock" for k in keys]
        held = await self.backend.acquire_many(locks, self.lock_ttl)
        waiting = [k for k, ok in zip(keys, held, strict=True) if not ok]
        values: dict[str, V] = {}
        if waiting:
            values.update(await self._await_other_replica(waiting, fresh))
        to_fetch = [k for k in keys if k not in values]
        try:
            if to_fetch:
                fetched = await fetch(to_fetch)
                new = {k: fetched.get(k, default) for k in to_fetch}
                await self.backend.set_many(
                    {self.key(k): self.adapter.dump_json(v) for k, v in new.items()},
                    self.ttl,
                )
                values.update(new)
        finally:
            await self.backend.delete_many(
                [lock for lock, ok in zip(locks, held, strict=True) if ok]
            )
        return values

    async def _await_other_replica(
        self, keys: list[str], fresh: Fresh[V] | None
    ) -> dict[str, V]:
        """Poll for values another replica is fetching, up to the lock's life."""
        deadline = time.monotonic() + self.lock_ttl
        found: dict[str, V] = {}
        pending = list(keys)
        while pending and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            raw = await self.backend.get_many([self.key(k) for k in pending])
            for key, value in zip(pending, raw, strict=True):
                if value is not None:
                    cached = self.adapter.validate_json(value)
                    if fresh is None or fresh(key, cached):
                        found[key] = cached
            pending = [k for k in pending if k not in found]
        return found

    async def peek_many(self, keys: Sequence[str]) -> list[V | None]:
        """Cached values without fetching (``None`` where absent)."""
        raw = await self.backend.get_many([self.key(k) for k in keys])
        return [None if v is None else self.adapter.validate_json(v) for v in raw]

    async def forget(self, keys: Sequence[str]) -> None:
        await self.backend.delete_many([self.key(k) for k in keys])


def open_backend(redis_url: str | None, max_entries: int) -> CacheBackend:
    if redis_url:
        return RedisBackend(redis_url)
    return MemoryBackend(max_entries)
