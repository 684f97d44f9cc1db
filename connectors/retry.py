"""When to ask an upstream again: exponential backoff with full jitter, and the
wait an upstream asks for itself (``Retry-After``). ``UpstreamHTTP`` applies
them, within each call's deadline."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 10.0
    """Bound of the backoff; a ``Retry-After`` is honoured beyond it (the
    deadline bounds every wait)."""

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for the given 1-based attempt."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds (``None``: absent or a date)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
