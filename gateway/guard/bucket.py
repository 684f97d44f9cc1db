"""Token buckets by key: Redis (one atomic Lua script, shared by replicas)
when configured, else in process — and in process while the process's Redis
breaker skips Redis (``gateway.shared_redis``).

A replica that loses Redis goes on from the level Redis last answered for each
key (every answer leaves it in the process's bucket), not from a full bucket.
When Redis is back, what the replica drew down in process (the level it found
when it first took alone, less the level it leaves, its own refill counted) is
taken from Redis's bucket: a debt the next takes wait for. While cut off, N
replicas may each spend what was left when Redis went and their own refill;
the draw-downs are repaid after, the refills are not, so a caller within its
rate owes nothing. A blip (one reply slower than ``CG_REDIS_TIMEOUT`` opens
the breaker) gives no replica a burst of its own.

A take may cost more than one token and may have to leave a floor in the
bucket; a refusal carries the seconds until it would pass. ``take_all`` takes
from several buckets at once, all or none, in one command (a call that spends
its upstream's budget and an endpoint's).

Used to meter callers (``gateway.auth.ratelimit``) and to spend the budget of
each upstream (``gateway.guard.budget``).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Sequence
from functools import partial
from typing import Any

from redis.asyncio.cluster import RedisCluster

from gateway.shared_redis.breaker import DOWN
from gateway.shared_redis.client import SharedRedis, as_bytes

_REFILL_AND_TAKE = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local floor = tonumber(ARGV[5])
local force = tonumber(ARGV[6])
local tokens = tonumber(redis.call('HGET', KEYS[1], 't') or ARGV[1])
local at = tonumber(redis.call('HGET', KEYS[1], 'at') or ARGV[3])
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
if force == 1 or tokens - cost >= floor then
  tokens = math.min(capacity, tokens - cost)
  allowed = 1
end
redis.call('HSET', KEYS[1], 't', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
"""
# Tokens refill at ``rate`` per second up to ``capacity``; a take of ``cost``
# passes while ``floor`` tokens stay; ``force`` applies it regardless (a
# settlement: negative costs give tokens back).
_TAKE = _REFILL_AND_TAKE + "return {allowed, tostring(tokens)}\n"
TAKE_READING = (
    _REFILL_AND_TAKE
    + "return {allowed, tostring(tokens), redis.call('MGET', unpack(KEYS, 2))}\n"
)
"""``_TAKE`` on ``KEYS[1]``, and the values of the other keys: one command,
88–113 µs of redis-py's CPU per call against 107–133 µs for a pipeline of
the two (docs/benchmarks.md, "The collector's young generation, and the warm
hit in one command")."""

TAKE_ALL = """
local now = tonumber(ARGV[1])
local found = {}
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[i * 4 - 2])
  local rate = tonumber(ARGV[i * 4 - 1])
  local tokens = tonumber(redis.call('HGET', key, 't') or capacity)
  local at = tonumber(redis.call('HGET', key, 'at') or now)
  tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
  if tokens - tonumber(ARGV[i * 4]) < tonumber(ARGV[i * 4 + 1]) then
    return {i, tostring(tokens)}
  end
  found[i] = tokens
end
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[i * 4 - 2])
  local life = math.ceil(capacity / tonumber(ARGV[i * 4 - 1]) * 1000) + 1000
  local left = math.min(capacity, found[i] - tonumber(ARGV[i * 4]))
  redis.call('HSET', key, 't', left, 'at', now)
  redis.call('PEXPIRE', key, life)
  found[i] = tostring(left)
end
return {0, unpack(found)}
"""
"""``_TAKE`` of each of ``KEYS`` (``ARGV``: now, then capacity, rate, cost and
floor of each), all or none: ``{0, tokens of each…}`` when all were taken,
else the first bucket (from 1) that could not cover its cost, and its
tokens."""

_LOCAL_KEYS = 100_000
"""Buckets kept in memory at most (one per key, address or embed token)."""
_SEEN_KEYS = 10_000
"""Keys whose Redis level a process keeps at most (the upstream budgets' few,
the callers' latest): beyond, it forgets them, and a key it forgot goes on
from a full bucket while Redis is skipped."""
_OWING_KEYS = 1_000
"""Keys whose draw-down in process is repaid at most."""
_REPAY_CHUNK = 100
"""Repaid keys per write: each write answers within ``CG_REDIS_TIMEOUT``."""


class TokenBucket:
    """Buckets of ``capacity`` tokens refilled at ``rate`` per second, one per key."""

    def __init__(
        self,
        rate: float,
        capacity: float,
        redis: SharedRedis | None,
        prefix: str,
        *,
        slot: str | None = None,
    ) -> None:
        """Keys are ``<prefix>:<key>``, or ``<prefix>:{<slot>}:<key>`` with a
        ``slot``: buckets of one slot share a Redis Cluster hash slot, so
        ``take_all`` may take from them in one command."""
        self.rate = rate
        self.capacity = capacity
        self.redis = redis
        self.prefix = prefix if slot is None else f"{prefix}:{{{slot}}}"
        self._buckets: dict[str, tuple[float, float]] = {}
        self._alone: dict[str, float] = {}
        """While Redis is skipped: each key's level in process when this
        process first took from it alone (what it draws down is repaid)."""
        if redis is not None:
            redis.breaker.on_recovery(self._repay)
        # takes made together go to Redis in one write (``BatchedScript``),
        # every bucket's of one client together
        self._script = redis.script(_TAKE) if redis else None
        self._reading = redis.script(TAKE_READING) if redis else None
        self._all = redis.script(TAKE_ALL) if redis else None

    async def take(self, key: str, cost: float = 1.0, floor: float = 0.0) -> float:
        """0 when ``cost`` tokens were taken leaving at least ``floor``; else
        the seconds until they could be (``inf`` when never)."""
        tokens = await self._apply(key, cost, floor, force=False)
        if tokens is None:
            return 0.0
        return self._wait(tokens, cost + floor)

    async def take_reading(
        self, key: str, reading: Sequence[str]
    ) -> tuple[float, list[bytes | None] | None]:
        """``take(key)``, and the values at ``reading`` read in the same
        command to a single Redis server: ``None`` for them where they were
        not read (no Redis, a cluster, whose keys live on several nodes, or
        Redis skipped) and the caller reads them itself."""
        redis = self.redis
        if not reading or redis is None or isinstance(redis.client, RedisCluster):
            return await self.take(key), None
        script = self._reading
        assert script is not None
        keys = [f"{self.prefix}:{key}", *reading]
        arguments = self._arguments(1.0, 0.0, force=False)
        # a missing script (Redis restarted or flushed) is loaded and run again
        skipped = not redis.breaker.closed
        answer = await redis.breaker.run("bucket", lambda: script(keys, arguments))
        if answer is DOWN:
            tokens = self._apply_local(key, 1.0, 0.0, force=False, alone=skipped)
            return 0.0 if tokens is None else self._wait(tokens, 1.0), None
        allowed, tokens, values = answer
        self._keep(key, float(tokens), most=_SEEN_KEYS)
        wait = 0.0 if int(allowed) else self._wait(float(tokens), 1.0)
        return wait, as_bytes(values)

    async def adjust(self, key: str, cost: float) -> None:
        """Take ``cost`` tokens whatever is left (give back when negative)."""
        await self._apply(key, cost, 0.0, force=True)

    async def _apply(
        self, key: str, cost: float, floor: float, *, force: bool
    ) -> float | None:
        """``None`` when applied, else the tokens there are."""
        skipped = False
        if self.redis is not None and self._script is not None:
            script = self._script
            skipped = not self.redis.breaker.closed
            answer = await self.redis.breaker.run(
                "bucket",
                lambda: script(
                    [f"{self.prefix}:{key}"],
                    self._arguments(cost, floor, force=force),
                ),
            )
            if answer is not DOWN:
                allowed, tokens = answer
                self._keep(key, float(tokens), most=_SEEN_KEYS)
                return None if int(allowed) else float(tokens)
        return self._apply_local(key, cost, floor, force=force, alone=skipped)

    async def _repay(self) -> None:
        """Take from Redis's buckets what this process drew down in process
        while Redis was skipped, a write per ``_REPAY_CHUNK`` keys; a key
        whose write fails again is owed at the next recovery."""
        alone, self._alone = self._alone, {}
        redis, script = self.redis, self._script
        if redis is None or script is None:
            return
        drawn = [
            (key, start - level)
            for key, start in alone.items()
            if start - (level := self._level(key)) > 0
        ]

        def repaid(key: str, cost: float) -> Awaitable[Any]:
            keys = [f"{self.prefix}:{key}"]
            return script(keys, self._arguments(cost, 0.0, force=True))

        for first in range(0, len(drawn), _REPAY_CHUNK):
            chunk = drawn[first : first + _REPAY_CHUNK]
            answers = await asyncio.gather(
                *(redis.breaker.run("bucket", partial(repaid, *c)) for c in chunk)
            )
            for (key, cost), answer in zip(chunk, answers, strict=True):
                if answer is DOWN:  # owed again: found at ``cost`` above now
                    self._alone.setdefault(key, self._level(key) + cost)
                else:
                    self._keep(key, float(answer[1]), most=_SEEN_KEYS)

    def _level(self, key: str) -> float:
        """``key``'s level in process now, refilled."""
        now = time.monotonic()
        tokens, at = self._buckets.get(key, (self.capacity, now))
        return min(self.capacity, tokens + (now - at) * self.rate)

    def _keep(self, key: str, tokens: float, *, most: int = _LOCAL_KEYS) -> None:
        """``key``'s level in process now: its own, or the one Redis answered,
        where this process goes on from while Redis is skipped; with more than
        ``most`` keys kept, the others are forgotten."""
        if len(self._buckets) >= most and key not in self._buckets:
            self._buckets.clear()  # many addresses or tokens: start afresh
        self._buckets[key] = (tokens, time.monotonic())

    def _arguments(self, cost: float, floor: float, *, force: bool) -> list[float]:
        """The script's ``ARGV``."""
        return [self.capacity, self.rate, time.time(), cost, floor, int(force)]

    def _apply_local(
        self, key: str, cost: float, floor: float, *, force: bool, alone: bool = False
    ) -> float | None:
        """``_apply`` in process; ``alone``: while Redis is skipped (not a
        call that just failed, which Redis may have run), the level found
        noted for ``_repay``."""
        tokens = self._level(key)
        if alone and key not in self._alone and len(self._alone) < _OWING_KEYS:
            self._alone[key] = tokens
        if force or tokens - cost >= floor:
            self._keep(key, min(self.capacity, tokens - cost))
            return None
        self._keep(key, tokens)
        return tokens

    def _wait(self, tokens: float, needed: float) -> float:
        if needed > self.capacity:
            return math.inf
        return max(0.001, (needed - tokens) / self.rate)


Take = tuple[TokenBucket, str, float, float]
"""A take of ``cost`` tokens from ``bucket``'s ``key`` leaving ``floor``."""


async def take_all(takes: Sequence[Take]) -> tuple[int, float]:
    """``take`` of each ``(bucket, key, cost, floor)``, all or none:
    ``(0, 0.0)`` when every one was taken, else the index of the first that
    could not be and the seconds until it could (none was taken). One command
    to Redis: the buckets share one Redis and, on a cluster, one ``slot``."""
    first = takes[0][0]
    skipped = False
    if first.redis is not None and first._all is not None:
        script = first._all
        skipped = not first.redis.breaker.closed
        keys = [f"{bucket.prefix}:{key}" for bucket, key, _, _ in takes]
        arguments: list[float] = [time.time()]
        for bucket, _, cost, floor in takes:
            arguments += [bucket.capacity, bucket.rate, cost, floor]
        answer = await first.redis.breaker.run(
            "bucket", lambda: script(keys, arguments)
        )
        if answer is not DOWN:
            failed = int(answer[0])
            if not failed:
                for (bucket, key, _, _), tokens in zip(takes, answer[1:], strict=True):
                    bucket._keep(key, float(tokens), most=_SEEN_KEYS)
                return 0, 0.0
            bucket, key, cost, floor = takes[failed - 1]
            bucket._keep(key, float(answer[1]), most=_SEEN_KEYS)
            return failed - 1, bucket._wait(float(answer[1]), cost + floor)
    for index, (bucket, key, cost, floor) in enumerate(takes):
        tokens = bucket._apply_local(key, cost, floor, force=False, alone=skipped)
        if tokens is not None:  # none taken: give back what the others took
            for done, done_key, given, _ in takes[:index]:
                done._apply_local(done_key, -given, 0.0, force=True)
            return index, bucket._wait(tokens, cost + floor)
    return 0, 0.0
