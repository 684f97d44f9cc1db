"""PostHog's API throttles, kept as PostHog keeps them.

PostHog throttles its private API per personal API key with Django REST
framework's ``SimpleRateThrottle`` (posthog/rate_limit.py): a sliding window of
the requests let through, refusing one while ``rate`` are younger than
``duration`` and saying when the oldest ages out. Each throttle of an endpoint
counts what it allows even when another refuses; refusals count nowhere (DRF
``APIView.check_throttles``). PostHog's defaults, per key:

- query: ``HogQLQueryThrottle`` 120/hour (posthog/api/query.py ``get_throttles``;
  a team's ``api_query_rate_limit`` replaces it, the docs' API-queries plan is
  2400/hour: https://posthog.com/docs/api/queries#rate-limits).
- persons, events: ``ClickHouseBurstRateThrottle`` 240/minute and
  ``ClickHouseSustainedRateThrottle`` 1200/hour (https://posthog.com/docs/api).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

HOUR = 3600.0
QUERIES_PER_HOUR = 120
BURST_PER_MINUTE = 240
SUSTAINED_PER_HOUR = 1200


@dataclass(slots=True)
class Throttle:
    """One sliding window; ``rate`` may change at any time (PostHog reads a
    team's query rate on every request)."""

    rate: int
    duration: float
    history: deque[float] = field(default_factory=deque)
    """Times of the requests let through, newest first."""

    def allow(self, now: float) -> bool:
        while self.history and self.history[-1] <= now - self.duration:
            self.history.pop()
        if len(self.history) >= self.rate:
            return False
        self.history.appendleft(now)
        return True

    def wait(self, now: float) -> float | None:
        """Seconds until a request may pass; ``None`` when ``rate`` was lowered
        below what the window holds (DRF's answer)."""
        oldest = self.history[-1] if self.history else now
        available = self.rate - len(self.history) + 1
        return (self.duration - (now - oldest)) / available if available > 0 else None


def refusal(throttles: Sequence[Throttle], now: float) -> tuple[bool, float | None]:
    """Whether a throttle refuses the request, and the longest known wait."""
    waits = [t.wait(now) for t in throttles if not t.allow(now)]
    return bool(waits), max((w for w in waits if w is not None), default=None)
