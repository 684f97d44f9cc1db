"""Where cached bytes live: Redis, or an in-process LRU.

Redis (``redis.asyncio`` + hiredis) when ``CG_REDIS_URL`` is set, else a bounded
in-process LRU with TTLs; both behind ``CacheBackend``. Redis failures never
reach clients: the backend answers "miss", the gateway goes upstream, the
failure is logged and counted, and Redis is tried again after a short pause
(the client reconnects by itself).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway import metrics

log = logging.getLogger("gateway.cache.read_through")


class CacheBackend(Protocol):
    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    async def set_many(self, items: Mapping[str, bytes], ttl: float) -> None: ...

    async def delete_many(self, keys: Sequence[str]) -> None: ...

    async def acquire_many(
        self, locks: Mapping[str, str], ttl: float
    ) -> list[tuple[bool, bytes | None]]:
        """Take short locks (``{lock: value key}``), each read together with its
        value key: ``(held, value)``, ``held`` where this caller has the lock;
        a value means another fetch stored it since the caller's last read."""
        ...

    async def store_and_release(
        self, items: Mapping[str, bytes], ttl: float, locks: Sequence[str]
    ) -> None:
        """``set_many`` then ``delete_many`` of ``locks``, in one round trip
        where the backend allows: whoever finds a lock free finds the value."""
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

    async def acquire_many(
        self, locks: Mapping[str, str], ttl: float
    ) -> list[tuple[bool, bytes | None]]:
        # One process: in-process single-flight suffices; no lock is taken.
        values = await self.get_many(list(locks.values()))
        return [(True, value) for value in values]

    async def store_and_release(
        self, items: Mapping[str, bytes], ttl: float, locks: Sequence[str]
    ) -> None:
        await self.set_many(items, ttl)  # no locks were taken

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

    async def acquire_many(
        self, locks: Mapping[str, str], ttl: float
    ) -> list[tuple[bool, bytes | None]]:
        if not locks or not self._available():
            return [(True, None)] * len(locks)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for lock, key in locks.items():
                    pipe.set(lock, b"1", nx=True, px=int(ttl * 1000))
                    pipe.get(key)
                answers = await pipe.execute()
        except RedisError as exc:
            self._failed("lock", exc)
            return [(True, None)] * len(locks)
        return [
            (bool(held), value.encode() if isinstance(value, str) else value)
            for held, value in zip(answers[::2], answers[1::2], strict=True)
        ]

    async def store_and_release(
        self, items: Mapping[str, bytes], ttl: float, locks: Sequence[str]
    ) -> None:
        """One pipeline: the values, then the locks' deletion. While Redis is
        paused only the locks are deleted (as ``delete_many`` always tries)."""
        if not self._available():
            items = {}
        if not (items or locks):
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, value in items.items():
                    pipe.set(key, value, px=int(ttl * 1000))
                if locks:
                    pipe.delete(*locks)
                await pipe.execute()
        except RedisError as exc:
            self._failed("set", exc)

    async def aclose(self) -> None:
        await self.redis.aclose()


def open_backend(redis_url: str | None, max_entries: int) -> CacheBackend:
    if redis_url:
        return RedisBackend(redis_url)
    return MemoryBackend(max_entries)
