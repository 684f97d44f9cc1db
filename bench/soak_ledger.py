"""What each simulator was asked during a soak, counted at the simulator, and
the vendor's limits those calls must stay within.

``Ledger.wrap`` sits in front of a simulator's app and notes every request:
the simulator's clock at arrival (the time its limits count in), the endpoint,
the status, and for Shopify the points the query asked for and whether it was
refused (``THROTTLED``, ``MAX_COST_EXCEEDED``: Shopify answers both with 200).
``Limit.busiest`` then finds the fullest window of a limit — a fixed minute of
the simulator's clock where the vendor counts so (Zendesk), a sliding one
where it slides (PostHog's throttles; Shopify's bucket is checked by its
refusals, as its level depends on refunds only the simulator knows).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectors.posthog.simulator.throttles import (
    BURST_PER_MINUTE,
    HOUR,
    QUERIES_PER_HOUR,
    SUSTAINED_PER_HOUR,
)
from connectors.zendesk.simulator.limits import (
    ACCOUNT_PER_MINUTE,
    SEARCH_PER_MINUTE,
    TICKETS_INDEX_PER_MINUTE,
    WINDOW,
)

GAVE_UP = 499
"""The status noted for a request its client left before the answer."""


@dataclass(frozen=True, slots=True)
class Call:
    at: float
    """The simulator's clock (simulated seconds) when the request arrived."""
    path: str
    status: int
    refused: bool
    """The vendor refused it for a limit: 429, ``THROTTLED``, ``MAX_COST_EXCEEDED``."""
    points: int = 0
    """Shopify: the query's requested cost."""
    seconds: float = 0.0
    """Real seconds the simulator took to answer (its latency included)."""


@dataclass(frozen=True, slots=True)
class Limit:
    upstream: str
    name: str
    allowed: int
    window: float
    """Seconds of the simulator's clock."""
    sliding: bool
    matches: Callable[[str], bool]

    def busiest(self, calls: list[Call]) -> int:
        """The most calls this limit counts in one window."""
        times = sorted(c.at for c in calls if self.matches(c.path))
        if not self.sliding:
            return max(
                Counter(int(t // self.window) for t in times).values(), default=0
            )
        most, first = 0, 0
        for last, moment in enumerate(times):
            while times[first] <= moment - self.window:
                first += 1
            most = max(most, last - first + 1)
        return most


def _everything(path: str) -> bool:
    return True


def _path(pattern: str) -> Callable[[str], bool]:
    compiled = re.compile(pattern)
    return lambda path: compiled.search(path) is not None


_SEARCH = _path(r"/api/v2/search(\.json)?$")
_REQUESTED = _path(r"/api/v2/users/\d+/tickets/requested(\.json)?$")
_ANALYTICS = _path(r"/api/(projects|environments)/\d+/(persons|events)/$")
_QUERY = _path(r"/api/(projects|environments)/\d+/query/$")

LIMITS = (
    Limit("zendesk", "account", ACCOUNT_PER_MINUTE, WINDOW, False, _everything),
    Limit("zendesk", "search", SEARCH_PER_MINUTE, WINDOW, False, _SEARCH),
    Limit(
        "zendesk",
        "ticket lists",
        TICKETS_INDEX_PER_MINUTE,
        WINDOW,
        False,
        _REQUESTED,
    ),
    Limit("posthog", "HogQL queries", QUERIES_PER_HOUR, HOUR, True, _QUERY),
    Limit(
        "posthog",
        "persons+events /min",
        BURST_PER_MINUTE,
        60.0,
        True,
        _ANALYTICS,
    ),
    Limit(
        "posthog",
        "persons+events /h",
        SUSTAINED_PER_HOUR,
        HOUR,
        True,
        _ANALYTICS,
    ),
)
"""The vendors' limits the soak's simulators enforce (their defaults: an
Enterprise Zendesk account, PostHog's default throttles)."""


@dataclass(slots=True)
class Ledger:
    clock: Callable[[], float]
    calls: dict[str, list[Call]] = field(default_factory=dict)

    def wrap(self, upstream: str, app: ASGIApp) -> ASGIApp:
        """``app`` with each of its HTTP requests noted under ``upstream``."""
        calls = self.calls.setdefault(upstream, [])
        clock = self.clock

        async def noted(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            at, began = clock(), time.perf_counter()
            status = 0
            body = bytearray()

            async def keep(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                elif upstream == "shopify" and message["type"] == "http.response.body":
                    body.extend(message.get("body", b""))
                await send(message)

            try:
                await app(scope, receive, keep)
            except ClientDisconnect:
                status = GAVE_UP  # the gateway's deadline passed first
            finally:
                refused, points = status == 429, 0
                if upstream == "shopify":
                    refused, points = _shopify(bytes(body), refused)
                seconds = time.perf_counter() - began
                calls.append(Call(at, scope["path"], status, refused, points, seconds))

        return noted

    def refusals(self, upstream: str) -> int:
        return sum(c.refused for c in self.calls.get(upstream, []))

    def total(self, upstream: str) -> int:
        return len(self.calls.get(upstream, []))

    def shopify_points(self, window: float) -> tuple[int, int]:
        """The most points requested in a fixed window, and the largest query."""
        calls = self.calls.get("shopify", [])
        per = Counter[int]()
        for call in calls:
            per[int(call.at // window)] += call.points
        return max(per.values(), default=0), max((c.points for c in calls), default=0)


def _shopify(body: bytes, refused: bool) -> tuple[bool, int]:
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        return refused, 0
    if not isinstance(answer, dict):
        return refused, 0
    codes = {
        (e.get("extensions") or {}).get("code")
        for e in answer.get("errors") or []
        if isinstance(e, dict)
    }
    cost = (answer.get("extensions") or {}).get("cost") or {}
    points = int(cost.get("requestedQueryCost") or 0)
    return refused or bool(codes & {"THROTTLED", "MAX_COST_EXCEEDED"}), points
