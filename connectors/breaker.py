"""A circuit breaker: stop calling an upstream that keeps failing, and probe
it now and then until it answers again.

::

    closed ──(failures consecutive failures)──▶ open
      ▲                                          │ after the open interval
      │ the probe answered                       ▼
      └──────────────────────────────────── half-open ──(probe failed)──▶ open,
                                           (one probe at a time)        interval × 2

The interval starts at ``base_interval`` and doubles with every failed probe
up to ``max_interval``; an answered probe closes the breaker and resets it.
A probe abandoned without a verdict (cancelled) lets the next call probe.
One breaker per upstream per process: each replica learns on its own, within
``failures`` calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        failures: int = 5,
        base_interval: float = 1.0,
        max_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = failures
        self.base_interval = base_interval
        self.max_interval = max_interval
        self.clock = clock
        self.state = BreakerState.CLOSED
        self.failures = 0
        """Consecutive failures while closed."""
        self.interval = base_interval
        self.reopens_at = 0.0
        self._probing = False

    def allow(self) -> bool:
        """Whether a call may go now; in half-open, only the one probe."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            if self.clock() < self.reopens_at:
                return False
            self.state = BreakerState.HALF_OPEN
            self._probing = False
        if self._probing:
            return False
        self._probing = True
        return True

    def answered(self) -> None:
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.interval = self.base_interval
        self._probing = False

    def failed(self) -> None:
        if self.state is BreakerState.HALF_OPEN:
            self.interval = min(self.interval * 2, self.max_interval)
            self._open()
            return
        self.failures += 1
        if self.state is BreakerState.CLOSED and self.failures >= self.threshold:
            self._open()

    def abandoned(self) -> None:
        """A call ended without a verdict: in half-open, the next may probe."""
        self._probing = False

    def _open(self) -> None:
        self.state = BreakerState.OPEN
        self.reopens_at = self.clock() + self.interval
        self._probing = False

    def retry_in(self) -> float:
        """Seconds until an open breaker lets a probe through (0 otherwise)."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self.reopens_at - self.clock())
