"""The Shopify connector: batched Admin GraphQL reads behind ``CommerceConnector``.

Many customers cost few calls: profiles come from ``nodes(ids:)`` in chunks of
250; the orders a query shows come as windows of each customer's newest orders,
many customers per ``nodes(ids:)`` call (``order_windows.py``); a customer's
whole history (``orders_by_customers``, for the insights sync) from one
``orders`` search per 25 customers (``customer_id:1 OR customer_id:2 …``)
paged to the end, with line items, refunds and returns inline.

Shopify rate-limits by query cost, not by request: a ``THROTTLED`` answer
(HTTP 200, or 429) is waited out for ``(requested - currentlyAvailable) /
restoreRate`` seconds and retried, so a busy shop slows the connector down
instead of failing it, up to ``max_throttle_wait`` seconds per query and never
past the call's deadline (``connectors.scope``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from connectors.base import PageGuard, RequestObserver, RetryPolicy, UpstreamHTTP
from connectors.errors import (
    UpstreamAuthError,
    UpstreamBadResponse,
    UpstreamRateLimited,
)
from connectors.models import (
    Checkout,
    ExternalCustomer,
    Order,
    OrderSummary,
    OrderWindow,
    Return,
)
from connectors.shopify import mapping, queries
from connectors.shopify.order_windows import OrderWindowReader

NAME = "shopify"
Json = dict[str, Any]


ESTIMATED_COST = 200.0
"""Points a query is charged against the gateway's budget before Shopify says
what it cost (a window of a few full orders requests about this much)."""
CUSTOMERS_PER_CHUNK = 25
CHUNK_CONCURRENCY = 8


class ShopifyConnector:
    name = NAME

    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        api_version: str = "2025-07",
        order_cap: int = 250,
        page_size: int = 50,
        checkout_lookback_days: int = 90,
        max_throttle_wait: float = 60.0,
        observer: RequestObserver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.http = UpstreamHTTP(
            NAME,
            base_url,
            headers={"X-Shopify-Access-Token": access_token},
            retry=retry,
            observer=observer,
            transport=transport,
        )
        self.path = f"/admin/api/{api_version}/graphql.json"
        self.order_cap = order_cap
        self.page_size = page_size
        self.checkout_lookback = timedelta(days=checkout_lookback_days)
        self.max_throttle_wait = max_throttle_wait
        self.observer = observer
        self.windows = OrderWindowReader(self.query, CHUNK_CONCURRENCY)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def customers_by_ids(
        self, ids: Sequence[str]
    ) -> list[ExternalCustomer | None]:
        found: list[ExternalCustomer | None] = []
        for start in range(0, len(ids), queries.MAX_IDS):
            chunk = list(ids[start : start + queries.MAX_IDS])
            data = await self.query(queries.CUSTOMERS_BY_IDS, {"ids": chunk})
            found.extend(mapping.customer(n) if n else None for n in data["nodes"])
        return found

    async def customers_by_emails(
        self, emails: Sequence[str]
    ) -> dict[str, ExternalCustomer]:
        wanted = sorted({e.strip().lower() for e in emails if e.strip()})
        found = await self._search("email", wanted)
        return {p.email.lower(): p for p in found if p.email}

    async def customers_by_phones(
        self, phones: Sequence[str]
    ) -> dict[str, ExternalCustomer]:
        """Profiles keyed by E.164 phone (the form Shopify stores)."""
        wanted = sorted({p.strip() for p in phones if p.strip()})
        found = await self._search("phone", wanted)
        return {p.phone: p for p in found if p.phone}

    async def _search(self, field: str, values: list[str]) -> list[ExternalCustomer]:
        """Customers matching any of ``values`` on ``field``: one ``customers``
        search per 50 values, exact matches only (search is fuzzy)."""
        found: list[ExternalCustomer] = []
        for start in range(0, len(values), queries.CUSTOMERS_PER_SEARCH):
            chunk = values[start : start + queries.CUSTOMERS_PER_SEARCH]
            search = " OR ".join(f'{field}:"{value}"' for value in chunk)
            async for node in self._pages(
                queries.CUSTOMERS_SEARCH, "customers", {"query": search}, len(chunk)
            ):
                profile = mapping.customer(node)
                value = profile.email if field == "email" else profile.phone
                if value and (value.lower() if field == "email" else value) in chunk:
                    found.append(profile)
        return found

    async def iter_customers(
        self, updated_since: datetime | None = None
    ) -> AsyncIterator[ExternalCustomer]:
        """Every customer updated after ``updated_since``, oldest change first."""
        variables: Json = {"sortKey": "UPDATED_AT"}
        if updated_since is not None:
            since = updated_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            variables["query"] = f"updated_at:>'{since}'"
        size = min(self.page_size, queries.MAX_CUSTOMERS_PAGE)
        async for node in self._pages(
            queries.CUSTOMERS_SEARCH, "customers", variables, size
        ):
            yield mapping.customer(node)

    async def orders_by_customers(
        self, customer_ids: Sequence[str], *, limit: int | None = None
    ) -> dict[str, list[Order]]:
        """The newest ``limit`` (default ``order_cap``) orders of each customer,
        newest first.

        Customers are searched ``CUSTOMERS_PER_CHUNK`` at a time (an OR-ed
        ``customer_id:`` query) and the chunks run concurrently: a chunk pages
        one cursor after another, so small chunks keep the wall time near that of
        the busiest customer instead of the sum. A chunk stops paging once every
        one of its customers has ``limit`` orders.
        """
        wanted = list(dict.fromkeys(customer_ids))
        result: dict[str, list[Order]] = {cid: [] for cid in wanted}
        chunks = [
            wanted[start : start + CUSTOMERS_PER_CHUNK]
            for start in range(0, len(wanted), CUSTOMERS_PER_CHUNK)
        ]
        concurrency = asyncio.Semaphore(CHUNK_CONCURRENCY)
        cap = self.order_cap if limit is None else limit

        async def read(chunk: list[str]) -> None:
            async with concurrency:
                await self._orders_of_chunk(chunk, result, cap)

        await asyncio.gather(*(read(chunk) for chunk in chunks))
        return result

    async def _orders_of_chunk(
        self, chunk: list[str], result: dict[str, list[Order]], cap: int
    ) -> None:
        size = min(self.page_size, queries.MAX_ORDERS_PAGE)
        search = " OR ".join(f"customer_id:{_numeric(cid)}" for cid in chunk)
        async for node in self._pages(
            queries.ORDERS, "orders", {"query": search}, size
        ):
            order = mapping.order(node)
            orders = result.get(order.customer_id or "")
            if orders is not None and len(orders) < cap:
                orders.append(order)
            if all(len(result[cid]) >= cap for cid in chunk):
                return

    async def order_windows(
        self, sizes: Mapping[str, int]
    ) -> dict[str, OrderWindow[Order]]:
        """The newest ``sizes[gid]`` full orders of each customer, newest first,
        with every line item, refund and return (``order_windows.py``)."""
        return await self.windows.orders(sizes)

    async def order_summary_windows(
        self, sizes: Mapping[str, int]
    ) -> dict[str, OrderWindow[OrderSummary]]:
        """The same as summaries: no line items, refunds or returns."""
        return await self.windows.summaries(sizes)

    async def returns_by_customers(
        self, customer_ids: Sequence[str]
    ) -> dict[str, list[Return]]:
        orders = await self.orders_by_customers(customer_ids)
        return {
            cid: [r for order in placed for r in order.returns]
            for cid, placed in orders.items()
        }

    async def abandoned_checkouts_by_customers(
        self, customer_ids: Sequence[str]
    ) -> dict[str, list[Checkout]]:
        """Shopify cannot filter checkouts by customer: read the recent ones
        (``checkout_lookback_days``) and keep those of the wanted customers."""
        result: dict[str, list[Checkout]] = {cid: [] for cid in customer_ids}
        since = datetime.now(UTC) - self.checkout_lookback
        variables = {"query": f"created_at:>='{since:%Y-%m-%dT%H:%M:%SZ}'"}
        size = min(self.page_size, queries.MAX_CHECKOUTS_PAGE)
        async for node in self._pages(
            queries.CHECKOUTS, "abandonedCheckouts", variables, size
        ):
            checkout = mapping.checkout(node)
            bucket = result.get(checkout.customer_id or "")
            if bucket is not None:
                bucket.append(checkout)
        return result

    async def _pages(
        self, document: str, root: str, variables: Json, size: int
    ) -> AsyncIterator[Json]:
        """Nodes of a root connection, following ``endCursor`` to the end."""
        guard = PageGuard(NAME)
        after: str | None = None
        while True:
            page = {**variables, "first": size, "after": after}
            connection = (await self.query(document, page))[root]
            for node in connection["nodes"]:
                yield node
            info = connection["pageInfo"]
            if not info["hasNextPage"] or not info["endCursor"]:
                return
            after = guard.advance(info["endCursor"])

    async def query(
        self, document: str, variables: Json, *, cost: float = ESTIMATED_COST
    ) -> Json:
        """Run one GraphQL document; wait out throttling; return ``data``.

        The gateway's budget is charged ``cost`` points up front and settled
        to what Shopify charged (``actualQueryCost``; nothing when throttled)."""
        waited = 0.0
        while True:
            try:
                body = await self.http.post_json(
                    self.path, {"query": document, "variables": variables}, cost=cost
                )
            except UpstreamRateLimited as exc:
                delay = exc.retry_after or self.http.retry.max_delay
            else:
                await self.http.settle(cost, _actual_cost(body))
                throttled = _throttle_delay(body)
                if throttled is None:
                    return _data(body)
                delay = throttled
                if self.observer is not None:
                    self.observer(NAME, "rate_limited")
            waited += delay
            throttled_too_long = UpstreamRateLimited(NAME, "throttled too long", delay)
            if waited > self.max_throttle_wait:
                raise throttled_too_long
            await self.http.wait(delay, throttled_too_long)


def _numeric(gid: str) -> str:
    """``customer_id:`` takes the numeric id, not the gid."""
    number = gid.rsplit("/", 1)[-1].split("?", 1)[0]
    if not number.isdigit():
        raise ValueError(f"not a Shopify customer id: {gid!r}")
    return number


def _actual_cost(body: Json) -> float | None:
    """The points Shopify charged (``extensions.cost.actualQueryCost``; null
    when throttled: 0); ``None`` when the answer does not say."""
    cost = body.get("extensions", {}).get("cost") if isinstance(body, dict) else None
    if not isinstance(cost, dict) or "actualQueryCost" not in cost:
        return None
    actual = cost["actualQueryCost"]
    return float(actual) if isinstance(actual, int | float) else 0.0


def _throttle_delay(body: Json) -> float | None:
    """Seconds until the bucket holds the requested points, or ``None`` when
    the answer was not throttled."""
    errors = body.get("errors")
    if not isinstance(errors, list) or not any(
        (e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors
    ):
        return None
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    rate = float(status.get("restoreRate") or 50.0)
    missing = float(cost.get("requestedQueryCost") or rate) - float(
        status.get("currentlyAvailable") or 0
    )
    return max(missing / rate, 0.05)


def _data(body: Json) -> Json:
    errors = body.get("errors")
    if isinstance(errors, str):
        raise UpstreamBadResponse(NAME, errors)
    if errors:
        codes = {(e.get("extensions") or {}).get("code") for e in errors}
        messages = "; ".join(str(e.get("message")) for e in errors)
        if "ACCESS_DENIED" in codes:
            raise UpstreamAuthError(NAME, messages)
        raise UpstreamBadResponse(NAME, messages)
    data = body.get("data")
    if not isinstance(data, dict):
        raise UpstreamBadResponse(NAME, "response has no data")
    return data
