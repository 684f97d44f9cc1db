"""The simulators' clock: the time their rate limits and search index count in.

Real time by default. A soak that compresses an hour into a minute hands each
simulator a ``ScaledClock(60)``: its windows, buckets and index lag then pass
60 times faster than the wall clock, so the vendor's 700 requests a minute are
700 a real second — the same limits, met K times sooner (``bench/soak.py``,
docs/simulators.md)::

    clock = ScaledClock(60)
    ZendeskSimulator(world, clock=clock)  # a Zendesk minute is a real second
    clock()           # simulated seconds, monotonic
    clock.real(60.0)  # 1.0: real seconds that many simulated ones take
"""

from __future__ import annotations

import time
from collections.abc import Callable


class ScaledClock:
    """Monotonic seconds that pass ``factor`` times faster than ``source``'s."""

    def __init__(
        self, factor: float = 1.0, source: Callable[[], float] = time.monotonic
    ) -> None:
        if factor <= 0:
            raise ValueError("a clock's factor must be positive")
        self.factor = factor
        self._source = source
        self._origin = source()

    def __call__(self) -> float:
        return self._origin + (self._source() - self._origin) * self.factor

    def real(self, simulated: float) -> float:
        """Real seconds that ``simulated`` seconds of this clock take."""
        return simulated / self.factor

    def simulated(self, real: float) -> float:
        """Seconds of this clock that ``real`` seconds make."""
        return real * self.factor
