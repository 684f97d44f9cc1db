"""Shopify's leaky bucket of query points, one per app and store.

Restore rates by plan are Shopify's (shopify.dev/docs/apps/build/apis/
graphql-admin/rate-limits, "GraphQL Admin API rate limits": Standard 100
points/s, Advanced 200, Plus 1,000, Enterprise 2,000). The bucket size
(``throttleStatus.maximumAvailable``) of these tiers is not published; the
older published figures were 20 s of restore (1,000 points at 50/s), kept here
[unverified]. A query's requested cost is taken before it runs — refused with
``THROTTLED`` when the bucket cannot cover it — and the difference to its
actual cost is given back after.
"""

from __future__ import annotations

import time
from collections.abc import Callable

PLANS: dict[str, float] = {
    "standard": 100.0,
    "advanced": 200.0,
    "plus": 1000.0,
    "enterprise": 2000.0,
}
"""Restore rate (points per second) by plan."""
BUCKET_SECONDS = 20.0
"""A full bucket holds this many seconds of restore."""


class LeakyBucket:
    def __init__(
        self,
        size: float,
        restore_rate: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``restore_rate`` points per second of ``clock`` (a ``ScaledClock``
        restores them faster, as a compressed soak needs)."""
        self.size = size
        self.restore_rate = restore_rate
        self.clock = clock
        self.available = size
        self._at = clock()

    @classmethod
    def for_plan(
        cls, plan: str, clock: Callable[[], float] = time.monotonic
    ) -> LeakyBucket:
        rate = PLANS[plan]
        return cls(rate * BUCKET_SECONDS, rate, clock)

    def _refill(self) -> None:
        now = self.clock()
        elapsed = now - self._at
        self.available = min(self.size, self.available + elapsed * self.restore_rate)
        self._at = now

    def take(self, cost: int) -> bool:
        self._refill()
        if cost > self.available:
            return False
        self.available -= cost
        return True

    def refund(self, points: int) -> None:
        self.available = min(self.size, self.available + points)

    def drain(self) -> None:
        self._refill()
        self.available = 0.0

    def wait_for(self, cost: int) -> float:
        """Seconds until the bucket holds ``cost`` points."""
        self._refill()
        return max(0.0, cost - self.available) / self.restore_rate

    def status(self) -> dict[str, float | int]:
        self._refill()
        return {
            "maximumAvailable": float(self.size),
            "currentlyAvailable": int(self.available),
            "restoreRate": float(self.restore_rate),
        }
