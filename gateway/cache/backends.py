"""Where cached bytes live: Redis, or an in-process LRU.

Redis (``redis.asyncio`` + hiredis, the process's ``SharedRedis``: one
server, a Cluster or a Sentinel-watched master) when ``CG_REDIS_URL`` is set,
else a bounded in-process LRU with TTLs; both behind ``CacheBackend``. Redis
failures never reach clients, nor make them wait: the first one opens the
process's breaker (``gateway.shared_redis``), and until a probe finds Redis
back the backend answers from an in-process tier of what this replica
fetched meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from functools import partial
from itertools import islice
from typing import Any, Protocol

from redis.asyncio.cluster import RedisCluster

from gateway.shared_redis.breaker import DOWN
from gateway.shared_redis.client import SharedRedis

log = logging.getLogger("gateway.cache.backends")

NEAR_TTL = 30.0
"""Seconds at most an entry of the outage tier is served: while Redis is down
no other replica's eviction reaches this one, so this bounds how stale a value
another replica changed can be (a local change evicts it at once)."""
MAX_EVICTIONS = 100_000
"""Evictions remembered during an outage for replay, at most (newest kept)."""
_REPLAY_CHUNK = 1_000
_GLOB = re.compile(r"[*?\[\]\\]")
"""What a ``SCAN MATCH`` pattern reads as a wildcard, escaped in a prefix."""


class CacheBackend(Protocol):
    @property
    def shared(self) -> bool:
        """Whether values other replicas store are readable now (Redis in
        use): only then is waiting for another replica's fetch worth it."""
        ...

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    async def set_many(self, items: Mapping[str, bytes], ttl: float) -> None: ...

    async def add_many(
        self, items: Mapping[str, bytes], ttl: float
    ) -> list[bytes | None]:
        """``set_many`` of the keys that hold no value (``SET … NX``); the
        values the keys hold then, in order (another writer's where it won)."""
        ...

    async def delete_many(self, keys: Sequence[str]) -> None: ...

    async def delete_prefixed(self, prefixes: Sequence[str]) -> int:
        """Delete every key starting with one of ``prefixes``; how many. A
        scan of every key: for rare deletions of unknown keys (an erasure)."""
        ...

    async def acquire_many(
        self, locks: Mapping[str, str], ttl: float, token: str
    ) -> list[tuple[bool, bytes | None]]:
        """Take short locks (``{lock: value key}``) holding ``token``, each
        read together with its value key: ``(held, value)``, ``held`` where
        this caller has the lock; a value means another fetch stored it since
        the caller's last read."""
        ...

    async def read_or_acquire(
        self, locks: Mapping[str, str], ttl: float, token: str
    ) -> list[tuple[bool, bytes | None]]:
        """``get_many`` of the value keys of ``locks`` (``{lock: value key}``),
        and ``acquire_many`` of the locks of those found empty: ``(held,
        value)`` each, in one round trip where the backend allows (then a
        miss is locked as it is read, and no fetch can end in between)."""
        ...

    async def store_and_release(
        self,
        locks: Mapping[str, str],
        items: Mapping[str, bytes],
        ttl: float,
        token: str,
    ) -> set[str]:
        """For each lock of ``locks`` (``{lock: value key}``) that still holds
        ``token``: its value key's item (if ``items`` has one) stored, then the
        lock released, in one round trip where the backend allows, so whoever
        finds a lock free finds the value. A lock gone or another's is left
        alone and its value not stored: an eviction deletes a value's lock
        with it (``ReadThrough.forget``), so what a fetch read before a change
        never lands after the change's eviction, whenever it is stored.
        Returns the value keys stored."""
        ...

    async def aclose(self) -> None: ...


READ_OR_LOCK = """
local out = {}
for i = 1, #KEYS, 2 do
  local value = redis.call('GET', KEYS[i])
  if value then
    out[#out + 1] = 0
    out[#out + 1] = value
  else
    local held = redis.call('SET', KEYS[i + 1], ARGV[2], 'NX', 'PX', ARGV[1])
    out[#out + 1] = held and 1 or 0
    out[#out + 1] = false
  end
end
return out
"""
"""``read_or_acquire`` in one command: ``KEYS`` are value, lock, value, lock…;
``ARGV`` the locks' life in ms and their token; answers held (1/0), value… ."""

STORE_IF_HELD = """
local stored = {}
for i = 1, #KEYS, 2 do
  if redis.call('GET', KEYS[i + 1]) == ARGV[2] then
    local value = ARGV[(i + 1) / 2 + 2]
    if value ~= '' then
      redis.call('SET', KEYS[i], value, 'PX', ARGV[1])
      stored[#stored + 1] = KEYS[i]
    end
    redis.call('DEL', KEYS[i + 1])
  end
end
return stored
"""
"""``store_and_release`` in one command: ``KEYS`` are value, lock, value,
lock…; ``ARGV`` the values' life in ms, the token, then a value per pair
(empty: the lock released only; no entry is empty); answers the value keys
stored."""


ADD_OR_READ = """
local out = {}
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i + 1], 'NX', 'PX', ARGV[1])
  out[i] = redis.call('GET', KEYS[i])
end
return out
"""
"""``add_many`` in one command: each key set to its value unless it has one,
then read; ``ARGV`` the values' life in ms, then a value per key."""


async def read_then_acquire(
    backend: CacheBackend, locks: Mapping[str, str], ttl: float, token: str
) -> list[tuple[bool, bytes | None]]:
    """``read_or_acquire`` in two round trips: a read, then the locks of the
    keys found empty, each read again with its lock (a fetch that ended in
    between left its value)."""
    values = await backend.get_many(list(locks.values()))
    read = zip(locks.items(), values, strict=True)
    empty = {lock: key for (lock, key), value in read if value is None}
    taken = await backend.acquire_many(empty, ttl, token)
    claims = dict(zip(empty, taken, strict=True))
    return [
        claims.get(lock, (False, value))
        for lock, value in zip(locks, values, strict=True)
    ]


def _claims(answers: Sequence[Any]) -> list[tuple[bool, bytes | None]]:
    """``(held, value)`` pairs of Redis's answers ``held, value, held, …``."""
    return [
        (bool(held), value.encode() if isinstance(value, str) else value)
        for held, value in zip(answers[::2], answers[1::2], strict=True)
    ]


class MemoryBackend:
    """A bounded LRU with per-entry expiry, for a single process."""

    shared = False

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._locks: dict[str, tuple[float, str]] = {}
        """Each lock's expiry and token, apart from the values: the LRU never
        drops a fetch's lock (which would drop its store). Fetches under way
        hold them: few."""

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

    async def add_many(
        self, items: Mapping[str, bytes], ttl: float
    ) -> list[bytes | None]:
        held = await self.get_many(list(items))
        added = {
            k: v for (k, v), old in zip(items.items(), held, strict=True) if not old
        }
        await self.set_many(added, ttl)
        return [old or added[k] for k, old in zip(items, held, strict=True)]

    async def delete_many(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._entries.pop(key, None)
            self._locks.pop(key, None)

    async def delete_prefixed(self, prefixes: Sequence[str]) -> int:
        starts = tuple(prefixes)
        doomed = [key for key in self._entries if key.startswith(starts)]
        await self.delete_many(doomed)
        await self.delete_many([key for key in self._locks if key.startswith(starts)])
        return len(doomed)

    async def acquire_many(
        self, locks: Mapping[str, str], ttl: float, token: str
    ) -> list[tuple[bool, bytes | None]]:
        """Every lock is taken, the newest fetch's token replacing another's:
        in one process, callers share a key's fetch (``ReadThrough``), so a
        second fetch of it is a larger request's, which should be stored."""
        now = time.monotonic()
        if len(self._locks) >= self.max_entries:  # those no store released
            self._locks = {k: v for k, v in self._locks.items() if v[0] > now}
        for lock in locks:
            self._locks[lock] = (now + ttl, token)
        values = await self.get_many(list(locks.values()))
        return [(True, value) for value in values]

    async def read_or_acquire(
        self, locks: Mapping[str, str], ttl: float, token: str
    ) -> list[tuple[bool, bytes | None]]:
        return await read_then_acquire(self, locks, ttl, token)

    async def store_and_release(
        self,
        locks: Mapping[str, str],
        items: Mapping[str, bytes],
        ttl: float,
        token: str,
    ) -> set[str]:
        now = time.monotonic()
        released = []
        for lock in locks:
            held = self._locks.get(lock)
            if held is not None and held[0] <= now:  # expired
                del self._locks[lock]
            elif held is not None and held[1] == token:
                released.append(lock)
                del self._locks[lock]
        keys = [locks[lock] for lock in released]
        stored = {key: items[key] for key in keys if key in items}
        await self.set_many(stored, ttl)
        return set(stored)

    def clear(self) -> None:
        self._entries.clear()
        self._locks.clear()

    async def aclose(self) -> None:
        self.clear()


class RedisBackend:
    """Redis behind the process's breaker, with an in-process tier for outages.

    While the breaker skips Redis every call goes to ``near``, a bounded LRU
    filled by what this replica fetches meanwhile (entries live at most
    ``NEAR_TTL``): repeated views are answered in process, misses are fetched
    once per key and replica (``ReadThrough``'s single-flight; the tier's
    locks only carry their fetches' tokens), and no call waits on Redis.
    Evictions and purges made meanwhile are remembered and replayed in Redis
    when it is back, so what a webhook evicted during the outage is not read
    back from Redis afterwards, and what an erasure purged is not kept there
    until its TTL; the tier is then emptied. A lock taken in one (Redis, or
    the tier) is not held in the other: what its fetch read is not stored."""

    def __init__(self, shared: SharedRedis, near_entries: int) -> None:
        self.shared_redis = shared
        self.redis = shared.client
        self.breaker = shared.breaker
        self.near = MemoryBackend(near_entries)
        self._evicted: dict[str, None] = {}
        """Keys deleted while Redis was skipped (insertion-ordered, bounded)."""
        self._evictions_lost = 0
        self._purges: dict[str, None] = {}
        """Prefixes purged while Redis was skipped (erasures: few)."""
        self.breaker.on_recovery(self._recovered)
        # the misses of a turn in one write, on the direct link where it goes
        self._read_or_lock = shared.script(READ_OR_LOCK)
        self._store_if_held = shared.script(STORE_IF_HELD)
        self._add_or_read = shared.script(ADD_OR_READ)

    @property
    def shared(self) -> bool:
        return self.breaker.closed

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        values = await self.breaker.run("get", partial(self.shared_redis.mget, keys))
        if values is DOWN:
            return await self.near.get_many(keys)
        return values

    async def set_many(self, items: Mapping[str, bytes], ttl: float) -> None:
        if not items:
            return

        async def pipeline() -> None:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, value in items.items():
                    pipe.set(key, value, px=int(ttl * 1000))
                await pipe.execute()

        if await self.breaker.run("set", pipeline) is DOWN:
            await self.near.set_many(items, min(ttl, NEAR_TTL))

    async def add_many(
        self, items: Mapping[str, bytes], ttl: float
    ) -> list[bytes | None]:
        if not items:
            return []

        script = self._add_or_read
        px = int(ttl * 1000)

        async def added() -> list[bytes | None]:
            """One script (``ADD_OR_READ``), on the direct link where it
            goes; on a cluster one per key (their slots differ), together."""
            if not isinstance(self.redis, RedisCluster):
                answer: list[bytes | None] = await script(
                    list(items), [px, *items.values()]
                )
                return answer
            answers = await asyncio.gather(
                *(script([key], [px, value]) for key, value in items.items())
            )
            return [value for answer in answers for value in answer]

        held = await self.breaker.run("set", added)
        if held is DOWN:
            return await self.near.add_many(items, min(ttl, NEAR_TTL))
        return held

    async def delete_many(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        if await self.breaker.run("delete", lambda: self.redis.delete(*keys)) is DOWN:
            await self.near.delete_many(keys)
            self._remember_evictions(keys)

    async def delete_prefixed(self, prefixes: Sequence[str]) -> int:
        """Redis's keys (every node's, on a cluster) and the in-process tier's;
        while Redis is skipped, the prefixes are purged there when it is back."""
        if not prefixes:
            return 0
        gone = await self.near.delete_prefixed(prefixes)
        found = await self.breaker.run("delete", partial(self._purge, prefixes))
        if found is DOWN:
            self._purges.update(dict.fromkeys(prefixes))
            return gone
        return gone + found

    async def _purge(self, prefixes: Sequence[str]) -> int:
        """Delete Redis's keys under ``prefixes`` in one walk of the keyspace,
        whatever their number: SCAN visits every key to match it, so each
        prefix of its own would too."""
        starts = tuple(p.encode() for p in prefixes)
        match = _GLOB.sub(r"\\\g<0>", os.path.commonprefix(list(prefixes))) + "*"
        keys = [
            k
            async for k in self.redis.scan_iter(match=match, count=1000)
            if k.startswith(starts)
        ]
        deleted = 0
        for start in range(0, len(keys), _REPLAY_CHUNK):
            deleted += await self.redis.delete(*keys[start : start + _REPLAY_CHUNK])
        return deleted

    async def acquire_many(
        self, locks: Mapping[str, str], ttl: float, token: str
    ) -> list[tuple[bool, bytes | None]]:
        if not locks:
            return []

        async def pipeline() -> list[bytes | None]:
            async with self.redis.pipeline(transaction=False) as pipe:
                for lock, key in locks.items():
                    pipe.set(lock, token, nx=True, px=int(ttl * 1000))
                    pipe.get(key)
                answers: list[bytes | None] = await pipe.execute()
                return answers

        answers = await self.breaker.run("lock", pipeline)
        if answers is DOWN:
            return await self.near.acquire_many(locks, ttl, token)
        return _claims(answers)

    async def read_or_acquire(
        self, locks: Mapping[str, str], ttl: float, token: str
    ) -> list[tuple[bool, bytes | None]]:
        """One script (``READ_OR_LOCK``); on a cluster, for one key only (a
        value and its lock share a slot, a batch's keys do not): a batch
        there takes two round trips (``read_then_acquire``)."""
        if not locks:
            return []
        if len(locks) > 1 and isinstance(self.redis, RedisCluster):
            return await read_then_acquire(self, locks, ttl, token)
        keys = [k for lock, value in locks.items() for k in (value, lock)]
        script = self._read_or_lock
        answers = await self.breaker.run(
            "lock", lambda: script(keys, [int(ttl * 1000), token])
        )
        if answers is DOWN:
            return await self.near.read_or_acquire(locks, ttl, token)
        return _claims(answers)

    async def store_and_release(
        self,
        locks: Mapping[str, str],
        items: Mapping[str, bytes],
        ttl: float,
        token: str,
    ) -> set[str]:
        """One script (``STORE_IF_HELD``); on a cluster one per key (a value
        and its lock share a slot), sent together. Without Redis the values
        go to the in-process tier under the same rule: a lock taken in Redis
        is not held there, so what was fetched under it is not stored."""
        if not locks:
            return set()
        pairs = [([key, lock], items.get(key, b"")) for lock, key in locks.items()]
        script = self._store_if_held
        px = int(ttl * 1000)

        async def stored() -> list[bytes]:
            if not isinstance(self.redis, RedisCluster):
                keys = [k for pair, _ in pairs for k in pair]
                answer: list[bytes] = await script(
                    keys, [px, token, *(value for _, value in pairs)]
                )
                return answer
            answers = await asyncio.gather(
                *(script(pair, [px, token, value]) for pair, value in pairs)
            )
            return [key for answer in answers for key in answer]

        landed = await self.breaker.run("set", stored)
        if landed is DOWN:
            return await self.near.store_and_release(
                locks, items, min(ttl, NEAR_TTL), token
            )
        return {key.decode() for key in landed}

    def _remember_evictions(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._evicted[key] = None
        while len(self._evicted) > MAX_EVICTIONS:
            del self._evicted[next(iter(self._evicted))]
            self._evictions_lost += 1

    async def _recovered(self) -> None:
        """Redis is back: replay the outage's evictions and purges, forget
        the tier."""
        if self._evictions_lost:
            log.warning(
                "%d evictions made while Redis was skipped were not kept; "
                "their values may be read for up to their TTL",
                self._evictions_lost,
            )
            self._evictions_lost = 0
        while self._evicted:
            chunk = list(islice(self._evicted, _REPLAY_CHUNK))
            replay = partial(self.redis.delete, *chunk)
            if await self.breaker.run("delete", replay) is DOWN:
                return  # down again: replayed when it is back
            for key in chunk:
                del self._evicted[key]
        if self._purges:
            purge = partial(self._purge, list(self._purges))
            if await self.breaker.run("delete", purge) is DOWN:
                return
            self._purges.clear()
        self.near.clear()

    async def aclose(self) -> None:
        """The tier only: the client is the process's (``SharedRedis``)."""
        self.near.clear()


def open_backend(shared: SharedRedis | None, max_entries: int) -> CacheBackend:
    if shared is not None:
        return RedisBackend(shared, max_entries)
    return MemoryBackend(max_entries)
