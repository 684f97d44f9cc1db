"""Klaviyo's rate limits as the simulator enforces them: per endpoint, a
burst window of one second and a steady window of one minute, both fixed
windows of the simulator's clock (``connectors.klaviyo.limits`` has the
figures and their sources).

A request over either window is answered 429 with ``Retry-After`` (whole
seconds until the spent window ends) and counts against nothing. Answers
below the limit carry ``RateLimit-Limit``, ``RateLimit-Remaining`` and
``RateLimit-Reset`` of the steady window; a 429 carries none of them
("the RateLimit-Limit, RateLimit-Remaining, and RateLimit-Reset headers are
not returned when you actually hit a HTTP 429").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from connectors.klaviyo.limits import Limit


@dataclass(slots=True)
class _Window:
    limit: int
    seconds: float
    index: int = -1
    used: int = 0

    def left(self, now: float) -> int:
        current = int(now // self.seconds)
        return self.limit - (self.used if current == self.index else 0)

    def take(self, now: float) -> None:
        current = int(now // self.seconds)
        if current != self.index:
            self.index, self.used = current, 0
        self.used += 1

    def resets(self, now: float) -> int:
        return max(1, math.ceil(self.seconds - now % self.seconds))


class EndpointLimits:
    """The burst and steady windows of each endpoint."""

    def __init__(self, clock: Callable[[], float], limits: Mapping[str, Limit]):
        self.clock = clock
        self._windows = {
            name: (_Window(limit.burst, 1.0), _Window(limit.steady, 60.0))
            for name, limit in limits.items()
        }

    def admit(self, endpoint: str) -> int | None:
        """Count one request; when a window is spent, the seconds to wait."""
        now = self.clock()
        windows = self._windows[endpoint]
        spent = [w for w in windows if w.left(now) <= 0]
        if spent:
            return max(w.resets(now) for w in spent)
        for window in windows:
            window.take(now)
        return None

    def headers(self, endpoint: str) -> dict[str, str]:
        now = self.clock()
        steady = self._windows[endpoint][1]
        return {
            "RateLimit-Limit": str(steady.limit),
            "RateLimit-Remaining": str(max(0, steady.left(now))),
            "RateLimit-Reset": str(steady.resets(now)),
        }
