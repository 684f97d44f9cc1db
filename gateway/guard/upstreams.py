"""The guard of every upstream call (``connectors.scope.CallGuard``): a
circuit breaker per upstream in this process, then the upstream's budget,
shared by every replica — and the budget of the endpoint's own limit, when
the call names one (Zendesk search): it must cover both, or spends neither.

Each priority class leaves a reserve of the budget's burst to the classes
above it: interactive reads none, fallback reads ``CG_UPSTREAM_FALLBACK_RESERVE``,
background work ``CG_UPSTREAM_BACKGROUND_RESERVE``. An interactive read the
budget cannot cover waits while half its deadline is left (calls in flight
are settled to their real cost: Shopify's documents are charged their planned
cost first), then is not sent; a fallback read is not sent at once. Not sent,
its source answers from the last good value (``gateway.cache.read_through``)
or null with ``UPSTREAM_RATE_LIMITED``. A background call waits for the
budget — within its deadline — so sync and backfills never spend what the
others need. The breakers' states are in ``/metrics`` and ``/readyz``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping

from connectors.breaker import BreakerState, CircuitBreaker
from connectors.errors import UpstreamBudgetSpent, UpstreamCircuitOpen
from connectors.scope import Outcome, Priority
from gateway import metrics
from gateway.guard.bucket import Take, TokenBucket, take_all
from gateway.guard.budget import Budget, budgets, upstream_of
from gateway.settings import Settings
from gateway.shared_redis.client import SharedRedis

BREAKER_GAUGE = {
    BreakerState.CLOSED: 0,
    BreakerState.HALF_OPEN: 1,
    BreakerState.OPEN: 2,
}


SETTLE_POLL = 0.05
"""Seconds between looks at a budget an interactive read waits for."""


class UpstreamGuard:
    def __init__(
        self,
        budgets: Mapping[str, Budget],
        breakers: Mapping[str, CircuitBreaker],
        *,
        redis: SharedRedis | None,
        prefix: str,
        reserves: Mapping[Priority, float],
        background_deadline: float,
    ) -> None:
        """``budgets`` by connector name, and by ``<connector>.<limit>`` for
        an endpoint's own limit; ``reserves``: the share of each burst a
        priority class leaves to the classes above it."""
        self.buckets = {  # an upstream's budgets in one slot: taken together
            name: TokenBucket(
                b.rate, b.capacity, redis, f"{prefix}:budget", slot=upstream_of(name)
            )
            for name, b in budgets.items()
        }
        self.reserves = dict(reserves)
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
        limit: str | None = None,
        hold: float = 0.0,
    ) -> None:
        breaker = self.breakers.get(connector)
        if breaker is not None:
            allowed = breaker.allow()
            self._gauge(connector)
            if not allowed:
                self._refused(connector, "breaker", priority)
                raise UpstreamCircuitOpen(connector, "circuit breaker open")
        names = [connector, *([f"{connector}.{limit}"] if limit else [])]
        spends = [name for name in names if name in self.buckets]
        if not spends or cost <= 0:
            return
        while (wait := await self._take(spends, cost, priority, hold)) > 0:
            if not self._may_wait(priority, wait, deadline):
                if breaker is not None:
                    breaker.abandoned()
                self._refused(connector, "budget", priority)
                raise UpstreamBudgetSpent(
                    connector, f"budget spent for {wait:.1f} s", retry_after=wait
                )
            if priority is Priority.BACKGROUND:
                await asyncio.sleep(wait)
            else:  # calls in flight settle below their planned cost: look again soon
                await asyncio.sleep(min(wait, SETTLE_POLL))

    @staticmethod
    def _may_wait(priority: Priority, wait: float, deadline: float) -> bool:
        """Background work waits as long as its deadline allows. An interactive
        read waits only while half its time is left for the call itself: a
        budget short for a moment (Shopify charged each document's planned
        cost until its real one is settled) then costs a little latency, not
        an error. The live fallback never waits: it is a fallback."""
        left = deadline - time.monotonic()
        if priority is Priority.BACKGROUND:
            return wait < left
        if priority is Priority.INTERACTIVE:
            return wait < left / 2
        return False

    async def _take(
        self, names: list[str], cost: float, priority: Priority, hold: float = 0.0
    ) -> float:
        """0 when every budget of ``names`` covered ``cost`` above the
        priority's reserve (all taken in one command); else the seconds until
        the one that did not could (none taken)."""
        takes: list[Take] = []
        for name in names:
            bucket = self.buckets[name]
            floor = bucket.capacity * self.reserves[priority]
            if name == names[0]:  # the upstream's own budget holds the rest
                floor = min(floor + hold, bucket.capacity - min(cost, 1.0))
            # A call dearer than the bucket holds above the floor (a budget
            # share smaller than one query's cost) waits for a full bucket,
            # not for ever; what it really cost is settled after.
            takes.append((bucket, name, min(cost, bucket.capacity - floor), floor))
        _, wait = await take_all(takes)
        return wait

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
        metrics.labelled(metrics.BREAKER_STATE, connector=connector).set(
            BREAKER_GAUGE[state]
        )

    def _refused(self, connector: str, reason: str, priority: Priority) -> None:
        metrics.UPSTREAM_REFUSED.labels(
            connector=connector, reason=reason, priority=priority.value
        ).inc()


def build_guard(
    settings: Settings, redis: SharedRedis | None, names: Iterable[str]
) -> UpstreamGuard:
    """The guard of the upstreams ``names``, from the settings: their
    budgets (an upstream's own, and one per endpoint with a limit of its own:
    ``zendesk.search``, ``klaviyo.<endpoint>``) and a
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
        reserves={
            Priority.INTERACTIVE: 0.0,
            Priority.FALLBACK: min(
                settings.upstream_fallback_reserve,
                settings.upstream_background_reserve,
            ),
            Priority.BACKGROUND: settings.upstream_background_reserve,
        },
        background_deadline=settings.background_deadline_seconds,
    )
