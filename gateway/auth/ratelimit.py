"""Per-caller token buckets: Redis (one atomic Lua script, shared by replicas)
when configured, else in process. A refusal carries the seconds until a token
is available, for ``Retry-After``."""

from __future__ import annotations

import logging
import math
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("gateway.ratelimit")

_TAKE = """
local tokens = tonumber(redis.call('HGET', KEYS[1], 't') or ARGV[1])
local at = tonumber(redis.call('HGET', KEYS[1], 'at') or ARGV[3])
local now = tonumber(ARGV[3])
tokens = math.min(tonumber(ARGV[1]), tokens + (now - at) * tonumber(ARGV[2]))
local allowed = 0
if tokens >= 1 then tokens = tokens - 1; allowed = 1 end
redis.call('HSET', KEYS[1], 't', tokens, 'at', now)
local refill_ms = math.ceil(tonumber(ARGV[1]) / tonumber(ARGV[2]) * 1000)
redis.call('PEXPIRE', KEYS[1], refill_ms + 1000)
return {allowed, tostring(tokens)}
"""


_LOCAL_KEYS = 100_000
"""Buckets kept in memory at most (one per key, address or embed token)."""


class RateLimiter:
    """``capacity`` requests in a burst, refilled at ``per_minute / 60`` per second."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        redis: Redis | None = None,
        prefix: str = "cg",
    ) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(burst)
        self.redis = redis
        self.prefix = prefix
        self._buckets: dict[str, tuple[float, float]] = {}
        self._script = redis.register_script(_TAKE) if redis is not None else None

    async def take(self, key: str) -> float:
        """0 when allowed; else the seconds to wait."""
        if self._script is not None:
            try:
                allowed, tokens = await self._script(
                    keys=[f"{self.prefix}:rate:{key}"],
                    args=[self.capacity, self.rate, time.time()],
                )
                return 0.0 if int(allowed) else self._wait(float(tokens))
            except RedisError as exc:
                log.warning("rate limiter falls back to memory: %s", exc)
        return self._take_local(key)

    def _take_local(self, key: str) -> float:
        now = time.monotonic()
        if len(self._buckets) > _LOCAL_KEYS:
            self._buckets.clear()  # many addresses or tokens: start afresh
        tokens, at = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return self._wait(tokens)

    def _wait(self, tokens: float) -> float:
        return max(0.001, (1 - tokens) / self.rate)


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
