"""The guard of every upstream call (``connectors.scope.CallGuard``): a
circuit breaker per upstream in this process, then the upstream's budget,
shared by every replica.

An interactive call the budget cannot cover now is not sent: its source
answers from the last good value (``gateway.cache.read_through``) or null
with ``UPSTREAM_RATE_LIMITED``. A background call waits for the budget —
within its deadline — and only while more than the reserve is left, so sync
and backfills never spend what interactive reads need. The breakers' states
are in ``/metrics`` and ``/readyz``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping

from connectors.breaker import BreakerState, CircuitBreaker
from connectors.errors import UpstreamBudgetSpent, UpstreamCircuitOpen
from connectors.scope import Outcome, Priority
from gateway import metrics
from gateway.guard.bucket import TokenBucket
from gateway.guard.budget import Budget, budgets, upstream_of
from gateway.settings import Settings
from gateway.shared_redis.client import SharedRedis

BREAKER_GAUGE = {
    BreakerState.CLOSED: 0,
    BreakerState.HALF_OPEN: 1,
    BreakerState.OPEN: 2,
}


class UpstreamGuard:
    def __init__(
        self,
        budgets: Mapping[str, Budget],
        breakers: Mapping[str, CircuitBreaker],
        *,
        redis: SharedRedis | None,
        prefix: str,
        reserve: float,
        background_deadline: float,
    ) -> None:
        self.buckets = {
            name: TokenBucket(b.rate, b.capacity, redis, f"{prefix}:budget")
            for name, b in budgets.items()
        }
        self.floors = {name: b.capacity * reserve for name, b in budgets.items()}
        self.breakers = dict(breakers)
        self.background_deadline = background_deadline
        for name in self.breakers:
            self._gauge(name)

    async def admit(
        self,
        connector: str,
        cost: float,
        priority: Priority,
        deadline: float,
        *,
        budget: str | None = None,
    ) -> None:
        breaker = self.breakers.get(connector)
        if breaker is not None:
            allowed = breaker.allow()
            self._gauge(connector)
            if not allowed:
                self._refused(connector, "breaker", priority)
                raise UpstreamCircuitOpen(connector, "circuit breaker open")
        name = budget or connector
        bucket = self.buckets.get(name)
        if bucket is None or cost <= 0:
            return
        floor = self.floors[name] if priority is Priority.BACKGROUND else 0.0
        while (wait := await bucket.take(name, cost, floor)) > 0:
            if priority is Priority.INTERACTIVE or time.monotonic() + wait >= deadline:
                if breaker is not None:
                    breaker.abandoned()
                self._refused(connector, "budget", priority)
                raise UpstreamBudgetSpent(connector, f"budget spent for {wait:.1f} s")
            await asyncio.sleep(wait)

    async def settle(self, connector: str, extra: float) -> None:
        bucket = self.buckets.get(connector)
        if bucket is not None:
            await bucket.adjust(connector, extra)

    def record(self, connector: str, outcome: Outcome) -> None:
        breaker = self.breakers.get(connector)
        if breaker is None:
            return
        if outcome is Outcome.ANSWERED:
            breaker.answered()
        elif outcome is Outcome.FAILED:
            breaker.failed()
        else:
            breaker.abandoned()
        self._gauge(connector)

    def detail(self) -> dict[str, dict[str, object]]:
        """Each upstream's breaker, for ``/readyz``."""
        return {
            name: {
                "breaker": breaker.state.value,
                "consecutiveFailures": breaker.failures,
                "probeInSeconds": round(breaker.retry_in(), 3),
            }
            for name, breaker in self.breakers.items()
        }

    def _gauge(self, connector: str) -> None:
        state = self.breakers[connector].state
        metrics.BREAKER_STATE.labels(connector=connector).set(BREAKER_GAUGE[state])

    def _refused(self, connector: str, reason: str, priority: Priority) -> None:
        metrics.UPSTREAM_REFUSED.labels(
            connector=connector, reason=reason, priority=priority.value
        ).inc()


def build_guard(
    settings: Settings, redis: SharedRedis | None, names: Iterable[str]
) -> UpstreamGuard:
    """The guard of the upstreams ``names``, from the settings: their
    budgets (an upstream's own, or one per endpoint: ``klaviyo:…``) and a
    breaker each."""
    wanted = set(names)
    shapes = {
        name: shape
        for name, shape in budgets(settings).items()
        if upstream_of(name) in wanted
    }
    return UpstreamGuard(
        shapes,
        {
            name: CircuitBreaker(
                failures=settings.breaker_failures,
                base_interval=settings.breaker_open_seconds,
                max_interval=settings.breaker_max_open_seconds,
            )
            for name in dict.fromkeys(upstream_of(n) for n in shapes)
        },
        redis=redis,
        prefix=settings.cache_prefix,
        reserve=settings.upstream_background_reserve,
        background_deadline=settings.background_deadline_seconds,
    )
