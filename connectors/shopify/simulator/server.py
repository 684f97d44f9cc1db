"""A Shopify Admin GraphQL API on loopback, for tests and ``customer-graph demo``.

``ShopifySimulator(world).app`` answers ``POST /admin/api/{version}/graphql.json``
the way Shopify does, its real limits on by default: ``X-Shopify-Access-Token``
auth (401 with ``errors`` as a string), a real GraphQL schema,
``extensions.cost`` on every answer, the standard plan's leaky bucket
(``bucket.py``) that answers ``THROTTLED`` when it cannot cover a query's
requested cost, ``MAX_COST_EXCEEDED`` above 1,000 requested points whatever the
plan, access scopes per token (``access.py``: a denied field is null with an
``ACCESS_DENIED`` error naming it, the rest answers;
``currentAppInstallation { accessScopes { handle } }``), and the 60-day order
window without ``read_all_orders``.

Knobs for tests: ``fail_next(n, status)``, ``drain()``, ``latency``, ``plan``
or ``bucket_size``/``restore_rate``, ``throttle_http_status`` (200 or 429),
``max_query_cost``, ``clock`` (the bucket's time), ``lose_answers(field, n)``
(run it, then answer 503 as a proxy that lost Shopify's answer would),
``scopes`` and ``grant``/``revoke`` (per token); counters ``requests`` (per
HTTP request) and ``operations`` (per GraphQL root field).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import httpx
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    execute_sync,
    parse,
    validate,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.demo_world import Product, World
from connectors.shopify.cost import (
    MAX_QUERY_COST,
    actual_cost,
    mutation_cost,
    requested_cost,
)
from connectors.shopify.simulator.access import SCOPES, implied
from connectors.shopify.simulator.bucket import LeakyBucket
from connectors.shopify.simulator.data import Record, ShopifyStore, customer_number
from connectors.shopify.simulator.resolvers import SimContext, build_schema
from connectors.shopify.simulator.webhooks import (
    RestPayloads,
    deliver,
    encode,
    webhook_headers,
)
from connectors.simulator_server import (
    QUIET_DISCONNECTS,
    InjectedFailures,
    RequestCounter,
    answered_after,
)

INVALID_TOKEN = (
    "[API] Invalid API key or access token (unrecognized login or wrong password)"
)
RATE_LIMIT_DOCS = "https://shopify.dev/api/usage/rate-limits"


class ShopifySimulator(InjectedFailures):
    def __init__(
        self,
        world: World,
        *,
        shop: str = "northwind-outfitters",
        access_token: str = "shpat_demo",
        api_secret: str = "shpss_demo_secret",
        api_version: str = "2025-07",
        latency: float = 0.0,
        plan: str = "standard",
        bucket_size: float | None = None,
        restore_rate: float | None = None,
        scopes: Iterable[str] = SCOPES,
        deleted: Iterable[int] | None = None,
        shop_timezone: str = "America/New_York",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``plan`` sets the bucket (``bucket_size``/``restore_rate`` override
        it); ``scopes``: what ``access_token`` was granted (default: every
        scope the connector reads); ``deleted``: world indices whose Shopify
        customer no longer exists (default: every index ending in 7 of each
        fifty, e.g. 7, 57, 107); ``clock``: the seconds the bucket restores
        in (``connectors.simulator_clock``)."""
        self.world = world
        self.shop = shop
        self.access_token = access_token
        self.api_secret = api_secret
        self.api_version = api_version
        self.latency = latency
        self.tokens: dict[str, frozenset[str]] = {access_token: frozenset(scopes)}
        """Every valid access token and the scopes it was granted."""
        self.throttle_http_status = 200
        self.max_query_cost = MAX_QUERY_COST
        """Shopify's single-query limit; a test lowers it to stand for Shopify
        pricing a document above the connector's own cost model."""
        planned = LeakyBucket.for_plan(plan)
        self.bucket = LeakyBucket(
            planned.size if bucket_size is None else bucket_size,
            planned.restore_rate if restore_rate is None else restore_rate,
            clock,
        )
        self.requests = RequestCounter()
        self.operations = RequestCounter()
        self.last_headers: dict[str, str] = {}
        if deleted is None:
            deleted = [i for i in range(world.size) if i % 50 == 7]
        self.store = ShopifyStore(world, shop=shop, deleted=deleted)
        self.rest = RestPayloads(shop_timezone)
        self._schema = build_schema()
        super().__init__()
        self._documents: dict[str, DocumentNode] = {}
        self._lost: dict[str, int] = {}
        self.app = Starlette(
            routes=[
                Route(
                    "/admin/api/{version}/graphql.json", self._graphql, methods=["POST"]
                )
            ],
            exception_handlers=QUIET_DISCONNECTS,
        )

    @property
    def shop_domain(self) -> str:
        return f"{self.shop}.myshopify.com"

    def lose_answers(self, field: str, n: int = 1) -> None:
        """The next ``n`` requests running root field ``field`` run it, then
        answer 503: the work is done, the client never hears of it."""
        self._lost[field] = self._lost.get(field, 0) + n

    def drain(self) -> None:
        """Empty the bucket: the next queries are THROTTLED until it refills."""
        self.bucket.drain()

    def grant(self, *scopes: str, token: str | None = None) -> None:
        """Add ``scopes`` to ``token`` (the main token by default); a token not
        known yet becomes valid with just these."""
        token = token or self.access_token
        self.tokens[token] = self.tokens.get(token, frozenset()) | set(scopes)

    def revoke(self, *scopes: str, token: str | None = None) -> None:
        """Take ``scopes`` from ``token`` (the main token by default)."""
        token = token or self.access_token
        self.tokens[token] = self.tokens[token] - set(scopes)

    def customer_gid(self, index: int) -> str:
        return f"gid://shopify/Customer/{customer_number(index)}"

    def add_order(
        self,
        customer_index: int,
        items: Iterable[tuple[Product, int]],
        *,
        processed_at: datetime | None = None,
    ) -> Record:
        return self.store.add_order(customer_index, items, processed_at=processed_at)

    def order_payload(self, order: Record) -> dict[str, Any]:
        """``orders/create`` and ``orders/updated`` body for a store order."""
        return self.rest.order(order)

    def customer_payload(self, customer_index: int) -> dict[str, Any]:
        """``customers/create`` and ``customers/update`` body."""
        return self.rest.customer(self.store.customers[customer_number(customer_index)])

    def refund_payload(self, order: Record) -> dict[str, Any]:
        """``refunds/create`` body for the order's first refund."""
        return self.rest.refund(order, order["refunds"][0])

    async def send_webhook(
        self,
        client_or_url: httpx.AsyncClient | str,
        topic: str,
        payload: dict[str, Any],
        *,
        secret: str | None = None,
        webhook_id: str | None = None,
        event_id: str | None = None,
        path: str = "/webhooks/shopify",
    ) -> httpx.Response:
        """POST one signed delivery (signed with ``secret`` or the API secret)."""
        body = encode(payload)
        headers = webhook_headers(
            body,
            topic,
            secret=secret or self.api_secret,
            shop_domain=self.shop_domain,
            api_version=self.api_version,
            webhook_id=webhook_id,
            event_id=event_id,
        )
        return await deliver(client_or_url, body, headers, path=path)

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": self.bucket.status(),
            }
        }

    def _throttled(self, requested: int, status: int) -> JSONResponse:
        error = {
            "message": "Throttled",
            "extensions": {"code": "THROTTLED", "documentation": RATE_LIMIT_DOCS},
        }
        body = {"errors": [error], "extensions": self._cost(requested, None)}
        headers = {"Retry-After": f"{self.bucket.wait_for(requested):.3f}"}
        return JSONResponse(body, status, headers=headers if status == 429 else None)

    def _failure(self, status: int) -> JSONResponse:
        if status == 401:
            return JSONResponse({"errors": INVALID_TOKEN}, 401)
        if status == 429:
            return self._throttled(1, 429)
        return JSONResponse({"errors": "Internal Server Error"}, status)

    async def _graphql(self, request: Request) -> JSONResponse:
        self.requests.add("graphql")
        self.last_headers = dict(request.headers)
        async with answered_after(self.latency):
            return await self._answer(request)

    async def _answer(self, request: Request) -> JSONResponse:
        scopes = self.tokens.get(request.headers.get("X-Shopify-Access-Token", ""))
        if scopes is None:
            return JSONResponse({"errors": INVALID_TOKEN}, 401)
        failure = self.next_failure()
        if failure is not None:
            return self._failure(failure[0])
        try:
            body = await request.json()
            query, variables = body["query"], body.get("variables") or {}
            operation_name = body.get("operationName")
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"errors": "Bad Request"}, 400)
        document = self._documents.get(query)
        if document is None:
            try:
                document = parse(query)
            except GraphQLError as exc:
                return JSONResponse({"errors": [exc.formatted]})
            invalid = validate(self._schema, document)
            if invalid:
                return JSONResponse({"errors": [e.formatted for e in invalid]})
            self._documents[query] = document
        roots = [
            selection.name.value
            for definition in document.definitions
            if isinstance(definition, OperationDefinitionNode)
            for selection in definition.selection_set.selections
            if isinstance(selection, FieldNode)
        ]
        for root in roots:
            self.operations.add(root)
        requested = requested_cost(document, operation_name, variables)
        if requested > self.max_query_cost:
            message = (
                f"Query cost is {requested}, which exceeds the single query max "
                f"cost limit ({self.max_query_cost})."
            )
            # the shape third-party fixtures record (message, cost, maxCost)
            error = {
                "message": message,
                "extensions": {
                    "code": "MAX_COST_EXCEEDED",
                    "cost": requested,
                    "maxCost": self.max_query_cost,
                },
            }
            extensions = self._cost(requested, None)
            return JSONResponse({"errors": [error], "extensions": extensions})
        if not self.bucket.take(requested):
            return self._throttled(requested, self.throttle_http_status)
        context = SimContext(self.store, scopes, self.world.now, implied(scopes))
        result = execute_sync(
            self._schema,
            document,
            variable_values=variables,
            operation_name=operation_name,
            context_value=context,
        )
        spent = actual_cost(result.data) + mutation_cost(document, operation_name)
        actual = min(requested, spent)
        self.bucket.refund(requested - actual)
        lost = [root for root in roots if self._lost.get(root)]
        for root in lost:
            self._lost[root] -= 1
        if lost:
            return self._failure(503)
        answer: dict[str, Any] = {"data": result.data}
        if result.errors:
            answer["errors"] = [e.formatted for e in result.errors]
        answer["extensions"] = self._cost(requested, actual)
        return JSONResponse(answer)
