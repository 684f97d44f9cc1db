"""Per-caller token buckets (``gateway.guard.bucket``: Redis, shared by
replicas, when configured, else in process — and in process too while the
process's Redis breaker skips Redis, so an outage costs no request a wait).
A refusal carries the seconds until a token is available, for ``Retry-After``.

Buckets are named by the pseudonym of what they count (``key:<name>``,
``jwt:<subject>``, ``authfail:<address>``): a JWT subject may be an email, an
address is personal data, and neither belongs in a Redis key name."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

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
        pseudonyms: Callable[[str], str] | None = None,
    ) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(burst)
        self.buckets = TokenBucket(self.rate, self.capacity, redis, f"{prefix}:rate")
        self.pseudonyms = pseudonyms

    async def take(self, key: str) -> float:
        """0 when allowed; else the seconds to wait."""
        if self.pseudonyms is not None:
            key = self.pseudonyms(key)
        return await self.buckets.take(key)

    async def take_reading(
        self, key: str, reading: Sequence[str]
    ) -> tuple[float, list[bytes | None] | None]:
        """``take``, and the values at ``reading`` in the same round trip
        where one Redis server holds both (``TokenBucket.take_reading``)."""
        if self.pseudonyms is not None:
            key = self.pseudonyms(key)
        return await self.buckets.take_reading(key, reading)


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
