"""Zendesk's requests-per-minute limits, as the simulator enforces them.

Every request counts against the account's limit, which its plan sets; a few
endpoints have a limit of their own that their requests count against too
(sources, read 2026-12; all [doc]):

* https://developer.zendesk.com/api-reference/introduction/rate-limits/ —
  Support API requests per minute: Team 200, Growth and Professional 400,
  Enterprise 700, Enterprise Plus (or the High Volume add-on) 2,500; headers
  ``X-Rate-Limit``/``X-Rate-Limit-Remaining`` on every answer, and on the
  Ticketing APIs ``ratelimit-limit``/``ratelimit-remaining``/``ratelimit-reset``
  (seconds) and ``zendesk-ratelimit-tickets-index: total=100; remaining=99;
  resets=41``; over the limit, 429 with ``Retry-After`` in seconds.
* https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/
  (List Search Results, "Limits") — search has its own limit, 2,500 per minute
  per account, "counts towards the global API rate limit", reported in
  ``Zendesk-RateLimit-search-index: total=…; remaining=…; resets=…``.
* https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/
  (List Tickets, "Limits") — the ticket lists, ``/users/{id}/tickets/requested``
  among them, have their own limit: 100 per minute per account (300 with the
  High Volume add-on), in ``Zendesk-RateLimit-tickets-index``.

Windows are fixed minutes of the simulator's clock (``ratelimit-reset`` counts
down to the next one). A refused request counts against nothing
[unverified: Zendesk does not say].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

PLAN_REQUESTS_PER_MINUTE = {
    "team": 200,
    "growth": 400,
    "professional": 400,
    "enterprise": 700,
    "enterprise_plus": 2500,
}
ACCOUNT_PER_MINUTE = PLAN_REQUESTS_PER_MINUTE["enterprise"]
SEARCH_PER_MINUTE = 2500
TICKETS_INDEX_PER_MINUTE = 100
WINDOW = 60.0

ACCOUNT = "account"
SEARCH_INDEX = "search-index"
TICKETS_INDEX = "tickets-index"


@dataclass(slots=True)
class _Window:
    limit: int
    minute: int = -1
    used: int = 0

    def remaining(self, minute: int) -> int:
        return self.limit - (self.used if minute == self.minute else 0)


class MinuteLimits:
    """The account's limit and the endpoints' own ones, per fixed minute."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        account: int = ACCOUNT_PER_MINUTE,
        endpoints: Mapping[str, int] | None = None,
    ) -> None:
        self.clock = clock
        self._windows = {ACCOUNT: _Window(account)}
        for name, limit in (endpoints or {}).items():
            self._windows[name] = _Window(limit)

    @property
    def account_limit(self) -> int:
        return self._windows[ACCOUNT].limit

    def endpoint_limit(self, endpoint: str) -> int:
        """An endpoint's own limit (the account's when it has none)."""
        return self._windows.get(endpoint, self._windows[ACCOUNT]).limit

    def _counted(self, endpoint: str | None) -> list[_Window]:
        own = self._windows.get(endpoint) if endpoint else None
        return [self._windows[ACCOUNT], *([own] if own else [])]

    def resets(self) -> int:
        """Whole seconds until the next minute starts (at least 1)."""
        return max(1, math.ceil(WINDOW - self.clock() % WINDOW))

    def admit(self, endpoint: str | None) -> int | None:
        """Count one request to ``endpoint``; when a limit it counts against
        is spent, count nothing and answer the seconds to wait."""
        minute = int(self.clock() // WINDOW)
        windows = self._counted(endpoint)
        if any(w.remaining(minute) <= 0 for w in windows):
            return self.resets()
        for window in windows:
            if window.minute != minute:
                window.minute, window.used = minute, 0
            window.used += 1
        return None

    def headers(self, endpoint: str | None) -> dict[str, str]:
        """What Zendesk reports of the limits this request counts against."""
        minute = int(self.clock() // WINDOW)
        account = self._windows[ACCOUNT]
        left = str(max(0, account.remaining(minute)))
        resets = str(self.resets())
        headers = {
            "X-Rate-Limit": str(account.limit),
            "X-Rate-Limit-Remaining": left,
            "ratelimit-limit": str(account.limit),
            "ratelimit-remaining": left,
            "ratelimit-reset": resets,
        }
        if endpoint and (own := self._windows.get(endpoint)):
            headers[f"Zendesk-RateLimit-{endpoint}"] = (
                f"total={own.limit}; remaining={max(0, own.remaining(minute))}; "
                f"resets={resets}"
            )
        return headers
