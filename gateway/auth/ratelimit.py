"""Per-caller token buckets (``gateway.guard.bucket``: Redis, shared by
replicas, when configured, else in process — and in process too while the
process's Redis breaker skips Redis, so an outage costs no request a wait).
A refusal carries the seconds until a token is available, for ``Retry-After``."""

from __future__ import annotations

import math

from gateway.guard.bucket import TokenBucket
from gateway.shared_redis.client import SharedRedis


class RateLimiter:
    """``capacity`` requests in a burst, refilled at ``per_minute / 60`` per second."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        redis: SharedRedis | None = None,
        prefix: str = "cg",
    ) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(burst)
        self.buckets = TokenBucket(self.rate, self.capacity, redis, f"{prefix}:rate")

    async def take(self, key: str) -> float:
        """0 when allowed; else the seconds to wait."""
        return await self.buckets.take(key)


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
