"""The Shopify connector: batched Admin GraphQL reads behind ``CommerceConnector``.

Many customers cost few calls: profiles come from ``nodes(ids:)`` in chunks of
250; the orders a query shows come as windows of each customer's newest orders,
many customers per ``nodes(ids:)`` call (``order_windows.py``); a customer's
whole history (``orders_by_customers``, for the insights sync) from one
``orders`` search per 25 customers (``customer_id:1 OR customer_id:2 …``)
paged to the end, with line items, refunds and returns inline.

Every document goes through ``admin_api.AdminApi``: throttling waited out,
fields of missing access scopes left out. Documents are planned under
Shopify's 1,000-point single-query limit with a margin
(``queries.PLANNED_COST``); one Shopify still prices above it
(``MAX_COST_EXCEEDED``) is asked again as two halves of its batch of ids, or
with half the page size. ``check_scopes`` asks which access scopes the app was
granted, so no read asks for what it may not read. Promo codes and the
collections they apply to: ``discounts`` (``discounts.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.answers import reads_answers
from connectors.models import (
    Checkout,
    DiscountCode,
    ExternalCustomer,
    NewDiscountCode,
    Order,
    OrderSummary,
    OrderWindow,
    Return,
)
from connectors.pagination import PageGuard
from connectors.retry import RetryPolicy
from connectors.shopify import mapping, queries, scopes
from connectors.shopify.admin_api import NAME, AdminApi, CostExceeded
from connectors.shopify.discounts import Discounts
from connectors.shopify.erasure import request_erasure
from connectors.shopify.order_windows import OrderWindowReader
from connectors.upstream_http import RequestObserver, UpstreamHTTP

Json = dict[str, Any]

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
        retry: RetryPolicy | None = None,
    ) -> None:
        self.http = UpstreamHTTP(
            NAME,
            base_url,
            headers={"X-Shopify-Access-Token": access_token},
            retry=retry,
            observer=observer,
        )
        self.api = AdminApi(
            self.http,
            f"/admin/api/{api_version}/graphql.json",
            max_throttle_wait=max_throttle_wait,
            observer=observer,
        )
        self.order_cap = order_cap
        self.page_size = page_size
        self.checkout_lookback = timedelta(days=checkout_lookback_days)
        self.windows = OrderWindowReader(self.query, self.nodes, CHUNK_CONCURRENCY)
        self.discounts = Discounts(self.query)

    async def aclose(self) -> None:
        await self.http.aclose()

    @reads_answers(NAME)
    async def customers_by_ids(
        self, ids: Sequence[str]
    ) -> list[ExternalCustomer | None]:
        found: list[ExternalCustomer | None] = []
        for start in range(0, len(ids), queries.IDS_PER_CALL):
            chunk = ids[start : start + queries.IDS_PER_CALL]
            nodes = await self.nodes(queries.CUSTOMERS_BY_IDS, chunk)
            found.extend(mapping.customer(n) if n else None for n in nodes)
        return found

    @reads_answers(NAME)
    async def customers_by_emails(
        self, emails: Sequence[str]
    ) -> dict[str, ExternalCustomer]:
        wanted = sorted({e.strip().lower() for e in emails if e.strip()})
        found = await self._search("email", wanted)
        return {p.email.lower(): p for p in found if p.email}

    @reads_answers(NAME)
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

    @reads_answers(NAME)
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

    @reads_answers(NAME)
    async def order_windows(
        self, sizes: Mapping[str, int]
    ) -> dict[str, OrderWindow[Order]]:
        """The newest ``sizes[gid]`` full orders of each customer, newest first,
        with every line item, refund and return (``order_windows.py``)."""
        return await self.windows.orders(sizes)

    @reads_answers(NAME)
    async def order_summary_windows(
        self, sizes: Mapping[str, int]
    ) -> dict[str, OrderWindow[OrderSummary]]:
        """The same as summaries: no line items, refunds or returns."""
        return await self.windows.summaries(sizes)

    @reads_answers(NAME)
    async def order_lines_windows(
        self, sizes: Mapping[str, int]
    ) -> dict[str, OrderWindow[OrderSummary]]:
        """The same as summaries with every line item's summary (no line
        totals), for lists that show what was bought."""
        return await self.windows.summaries(sizes, lines=True)

    @reads_answers(NAME)
    async def returns_by_customers(
        self, customer_ids: Sequence[str]
    ) -> dict[str, list[Return]]:
        orders = await self.orders_by_customers(customer_ids)
        return {
            cid: [r for order in placed for r in order.returns]
            for cid, placed in orders.items()
        }

    @reads_answers(NAME)
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

    async def create_discount_code(self, wanted: NewDiscountCode) -> DiscountCode:
        """A customer's promo code, created once however often it is asked
        for (``discounts.py``)."""
        return await self.discounts.create_code(wanted)

    async def erase_customer(self, external_id: str) -> tuple[str, ...]:
        """``customerRequestDataErasure`` for the customer's gid (``erasure.py``)."""
        await request_erasure(self.query, external_id)
        return (external_id,)

    @reads_answers(NAME)
    async def check_scopes(self) -> scopes.ScopeCheck:
        """The scopes the app was granted (``currentAppInstallation``); the
        missing ones' fields are not asked from now on."""
        data = await self.query(queries.ACCESS_SCOPES, {})
        granted = frozenset(
            str(scope["handle"])
            for scope in data["currentAppInstallation"]["accessScopes"]
        )
        check = scopes.ScopeCheck(granted)
        self.api.missing_scopes = frozenset(check.missing)
        return check

    async def nodes(
        self, document: str, ids: Sequence[str], variables: Json | None = None
    ) -> list[Json | None]:
        """``data.nodes`` of ``document`` for ``ids``, in their order. A batch
        Shopify prices above its limit is asked again as two halves."""
        try:
            data = await self.query(document, {**(variables or {}), "ids": list(ids)})
        except CostExceeded:
            if len(ids) < 2:
                raise
            half = len(ids) // 2
            first, second = await asyncio.gather(
                self.nodes(document, ids[:half], variables),
                self.nodes(document, ids[half:], variables),
            )
            return first + second
        found: list[Json | None] = data["nodes"]
        return found

    async def _pages(
        self, document: str, root: str, variables: Json, size: int
    ) -> AsyncIterator[Json]:
        """Nodes of a root connection, following ``endCursor`` to the end; a
        page Shopify prices above its limit is asked again half as big."""
        guard = PageGuard(NAME)
        after: str | None = None
        while True:
            page = {**variables, "first": size, "after": after}
            try:
                connection = (await self.query(document, page))[root]
            except CostExceeded:
                if size < 2:
                    raise
                size //= 2
                continue
            for node in connection["nodes"]:
                yield node
            info = connection["pageInfo"]
            if not info["hasNextPage"] or not info["endCursor"]:
                return
            after = guard.advance(info["endCursor"])

    async def query(self, document: str, variables: Json) -> Json:
        """Run one GraphQL document; return ``data`` (``admin_api.py``)."""
        return await self.api.query(document, variables)

    @property
    def missing_scopes(self) -> frozenset[str]:
        """Scopes the app lacks, as far as it is known (``check_scopes``, or an
        ``ACCESS_DENIED`` answer): fields of the optional ones are not asked."""
        return self.api.missing_scopes


def _numeric(gid: str) -> str:
    """``customer_id:`` takes the numeric id, not the gid."""
    number = gid.rsplit("/", 1)[-1].split("?", 1)[0]
    if not number.isdigit():
        raise ValueError(f"not a Shopify customer id: {gid!r}")
    return number
