"""One Admin GraphQL document sent to Shopify and its answer read: what every
read of the connector goes through.

- Shopify rate-limits by query cost, not by request: a ``THROTTLED`` answer
  (HTTP 200, or 429) is waited out for ``(requested - currentlyAvailable) /
  restoreRate`` seconds from its ``throttleStatus`` and asked again, so a busy
  shop slows the connector down instead of failing it, up to
  ``max_throttle_wait`` seconds per document and never past the call's
  deadline (``connectors.scope``).
- The gateway's budget (``UpstreamHTTP.guard``) is charged up front what the
  document cost the last time it was answered (its planned cost, by the
  cost model of ``cost.py``, the first time), and settled to what Shopify
  charged (``actualQueryCost``; nothing when throttled). Shopify reserves
  the requested cost only while a query runs and refunds the rest at once:
  charging the planned cost (883 points for a 360 view that costs far less)
  refused views a shop's bucket would have served (the soak, issue 16).
- A document priced above Shopify's single-query limit (``MAX_COST_EXCEEDED``)
  is ``CostExceeded``, for the caller to split (``client.py``).
- Access scopes: the fields of optional scopes the app lacks are left out of
  every document (``scopes.py``); an ``ACCESS_DENIED`` answer for such a field
  adds its scope to the missing ones and asks again without it, so a read never
  fails for a field it can do without. A scope no read can do without
  (``read_customers``, ``read_orders``) is ``UpstreamForbidden``.

Outcomes beyond each HTTP attempt's go to the observer: ``rate_limited``
(THROTTLED), ``cost_exceeded``, ``access_denied``.
"""

from __future__ import annotations

import logging
from typing import Any

from connectors.errors import (
    UpstreamBadResponse,
    UpstreamForbidden,
    UpstreamRateLimited,
)
from connectors.shopify import scopes
from connectors.shopify.cost import is_mutation, planned_cost
from connectors.upstream_http import RequestObserver, UpstreamHTTP

NAME = "shopify"
Json = dict[str, Any]
log = logging.getLogger("connectors.shopify")

STANDARD_RESTORE_RATE = 100.0
"""Points per second on the standard plan (shopify.dev, "GraphQL Admin API rate
limits"): the wait assumed when a THROTTLED answer carries no throttleStatus."""


class CostExceeded(UpstreamBadResponse):
    """Shopify priced a document above its single-query limit
    (``MAX_COST_EXCEEDED``): the connector splits its batch; past one id or
    one item a page, it is a protocol error like any other."""


class AdminApi:
    def __init__(
        self,
        http: UpstreamHTTP,
        path: str,
        *,
        max_throttle_wait: float,
        observer: RequestObserver | None,
    ) -> None:
        self.http = http
        self.path = path
        self.max_throttle_wait = max_throttle_wait
        self.observer = observer
        self.missing_scopes: frozenset[str] = frozenset()
        """Scopes the app lacks, as far as it is known."""
        self.spent: dict[str, float] = {}
        """What each document (by its text) cost the last time it was answered:
        what the budget is charged next time (its planned cost the first)."""

    async def query(self, document: str, variables: Json) -> Json:
        """Run one GraphQL document without the fields of missing optional
        scopes; wait out throttling; return ``data``."""
        while True:
            withheld = scopes.withheld_fields(self.missing_scopes)
            body = await self._send(scopes.without(document, withheld), variables)
            errors = body.get("errors")
            refused = scopes.denied(errors) if isinstance(errors, list) else set()
            if not refused:
                return self._data(body)
            self._observe("access_denied")
            optional = set(scopes.OPTIONAL)
            learned = refused - self.missing_scopes
            if not learned or not learned <= optional:
                needed = sorted(refused - optional) or sorted(refused)
                raise UpstreamForbidden(NAME, f"{needed[0]} not granted", needed[0])
            self.missing_scopes |= learned
            log.warning(
                "shopify: access denied, asking again without: %s",
                ", ".join(sorted(learned)),
            )

    async def _send(self, document: str, variables: Json) -> Json:
        """One answer that is not THROTTLED, waiting as long as it says."""
        waited = 0.0
        planned = planned_cost(document, variables)
        charged = self.spent.get(document) or planned
        while True:
            try:
                body = await self.http.post_json(
                    self.path,
                    {"query": document, "variables": variables},
                    read=not is_mutation(document),
                    cost=charged,
                    cost_of=actual_cost,
                    hold=max(0.0, planned - charged),
                )
            except UpstreamRateLimited as exc:
                delay = exc.retry_after or self.http.retry.max_delay
            else:
                actual = actual_cost(body)
                if actual:
                    self.spent[document] = actual
                throttled = throttle_delay(body)
                if throttled is None:
                    result: Json = body
                    return result
                delay = throttled
                self._observe("rate_limited")
            waited += delay
            too_long = UpstreamRateLimited(NAME, "throttled too long", delay)
            if waited > self.max_throttle_wait:
                raise too_long
            await self.http.wait(delay, too_long)

    def _data(self, body: Json) -> Json:
        errors = body.get("errors")
        if isinstance(errors, str):
            raise UpstreamBadResponse(NAME, errors)
        if errors:
            codes = {(e.get("extensions") or {}).get("code") for e in errors}
            messages = "; ".join(str(e.get("message")) for e in errors)
            if "MAX_COST_EXCEEDED" in codes:
                self._observe("cost_exceeded")
                raise CostExceeded(NAME, messages)
            raise UpstreamBadResponse(NAME, messages)
        data = body.get("data")
        if not isinstance(data, dict):
            raise UpstreamBadResponse(NAME, "response has no data")
        return data

    def _observe(self, outcome: str) -> None:
        if self.observer is not None:
            self.observer(NAME, outcome)


def actual_cost(body: Json) -> float | None:
    """The points Shopify charged (``extensions.cost.actualQueryCost``; null
    when throttled: 0); ``None`` when the answer does not say."""
    cost = (body.get("extensions") or {}).get("cost")
    if not isinstance(cost, dict) or "actualQueryCost" not in cost:
        return None
    actual = cost["actualQueryCost"]
    return float(actual) if isinstance(actual, int | float) else 0.0


def throttle_delay(body: Json) -> float | None:
    """Seconds until the bucket holds the requested points, or ``None`` when
    the answer was not throttled."""
    errors = body.get("errors")
    if not isinstance(errors, list) or not any(
        (e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors
    ):
        return None
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    rate = float(status.get("restoreRate") or STANDARD_RESTORE_RATE)
    missing = float(cost.get("requestedQueryCost") or rate) - float(
        status.get("currentlyAvailable") or 0
    )
    return max(missing / rate, 0.05)
