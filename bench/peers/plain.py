"""Peer (b): a plain Strawberry app over the same three upstreams — what a team
writes in a week, without this project's loaders, caches or identity links.

Every field that needs an upstream asks it in its own resolver: the customer's
profile and its orders are two Shopify queries, the tickets and the open
ticket count two Zendesk ticket lists, ``lastSeenAt`` and ``activity`` two
PostHog calls. The one thing shared within a customer is the Zendesk user
look-up by e-mail (memoized on the customer object, as anyone would after
seeing three identical searches in the logs). No DataLoader, no Redis, one
``httpx.AsyncClient`` per upstream per worker process.

Customers are Shopify's (the store is the system of record a team would
start from): ``customer(id:)`` takes Shopify's numeric id, ``customers``
pages Shopify's list. Run it as the benchmark does::

    PEER_SHOPIFY_URL=… PEER_SHOPIFY_TOKEN=… PEER_ZENDESK_URL=… \\
    PEER_ZENDESK_EMAIL=… PEER_ZENDESK_TOKEN=… PEER_POSTHOG_URL=… \\
    PEER_POSTHOG_KEY=… uvicorn bench.peers.plain:create_app --factory --workers 2

It imports nothing of this project: it is someone else's app.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL

from bench.peers.plain_types import Address, Event, Order, Ticket, event, order, ticket

Json = dict[str, Any]
OPEN_STATUSES = frozenset({"new", "open", "pending"})
EVENTS_SINCE = "2000-01-01T00:00:00+00:00"
"""PostHog's events list reads the last day by default: ask for all."""
KEEP_ALIVE = httpx.Limits(keepalive_expiry=1.0)
"""Idle upstream connections are dropped after 1 s: the simulators' uvicorn
closes them after 5 s, httpx's default, and a request sent as it closes one
fails ("Server disconnected")."""

PROFILE = """query Profile($id: ID!) { customer(id: $id) {
  id legacyResourceId firstName lastName displayName email phone locale createdAt
  tags defaultAddress { address1 city province zip countryCodeV2 } } }"""
ORDERS = """query Orders($id: ID!, $first: Int!) { customer(id: $id) {
  orders(first: $first, sortKey: PROCESSED_AT, reverse: true) { edges { node {
    id name processedAt displayFinancialStatus displayFulfillmentStatus
    totalPriceSet { shopMoney { amount currencyCode } }
    lineItems(first: 10) { edges { node {
      title quantity sku originalUnitPriceSet { shopMoney { amount currencyCode } }
    } } } } } } } }"""
PAGE = """query Page($first: Int!) { customers(first: $first) { nodes {
  id legacyResourceId firstName lastName displayName email phone locale createdAt
  tags defaultAddress { address1 city province zip countryCodeV2 } } } }"""


@dataclass(frozen=True, slots=True)
class Upstreams:
    shopify: httpx.AsyncClient
    zendesk: httpx.AsyncClient
    posthog: httpx.AsyncClient

    async def shopify_query(self, query: str, variables: Json) -> Json:
        response = await self.shopify.post(
            "/admin/api/2025-07/graphql.json",
            json={"query": query, "variables": variables},
        )
        response.raise_for_status()
        body: Json = response.json()
        if body.get("errors"):
            raise RuntimeError("Shopify answered with errors")
        data: Json = body["data"]
        return data

    async def zendesk_get(self, path: str, **params: str) -> Json:
        response = await self.zendesk.get(f"/api/v2{path}", params=params)
        response.raise_for_status()
        body: Json = response.json()
        return body

    async def posthog_get(self, path: str, **params: str) -> Json:
        response = await self.posthog.get(f"/api/projects/1{path}", params=params)
        response.raise_for_status()
        body: Json = response.json()
        return body


def upstreams_from_environment() -> Upstreams:
    return Upstreams(
        shopify=httpx.AsyncClient(
            base_url=os.environ["PEER_SHOPIFY_URL"],
            headers={"X-Shopify-Access-Token": os.environ["PEER_SHOPIFY_TOKEN"]},
            timeout=30,
            limits=KEEP_ALIVE,
        ),
        zendesk=httpx.AsyncClient(
            base_url=os.environ["PEER_ZENDESK_URL"],
            auth=(
                f"{os.environ['PEER_ZENDESK_EMAIL']}/token",
                os.environ["PEER_ZENDESK_TOKEN"],
            ),
            timeout=30,
            limits=KEEP_ALIVE,
        ),
        posthog=httpx.AsyncClient(
            base_url=os.environ["PEER_POSTHOG_URL"],
            headers={"Authorization": f"Bearer {os.environ['PEER_POSTHOG_KEY']}"},
            timeout=30,
            limits=KEEP_ALIVE,
        ),
    )


def _upstreams(info: strawberry.Info) -> Upstreams:
    found: Upstreams = info.context["upstreams"]
    return found


@strawberry.type
class Customer:
    id: strawberry.ID
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    display_name: str
    locale: str
    created_at: str
    tags: list[str]
    address: Address | None
    gid: strawberry.Private[str]
    zendesk_user: strawberry.Private[asyncio.Future[int | None] | None] = None

    async def _zendesk_user_id(self, info: strawberry.Info) -> int | None:
        if self.zendesk_user is None:
            self.zendesk_user = asyncio.ensure_future(self._search_user(info))
        return await self.zendesk_user

    async def _search_user(self, info: strawberry.Info) -> int | None:
        if not self.email:
            return None
        found = await _upstreams(info).zendesk_get(
            "/users/search", query=f"email:{self.email}"
        )
        users = found.get("users") or []
        return int(users[0]["id"]) if users else None

    async def _tickets(self, info: strawberry.Info) -> list[Json]:
        user = await self._zendesk_user_id(info)
        if user is None:
            return []
        found = await _upstreams(info).zendesk_get(f"/users/{user}/tickets/requested")
        tickets: list[Json] = found.get("tickets") or []
        return tickets

    @strawberry.field
    async def orders(self, info: strawberry.Info, first: int = 20) -> list[Order]:
        data = await _upstreams(info).shopify_query(
            ORDERS, {"id": self.gid, "first": first}
        )
        edges = (data["customer"] or {"orders": {"edges": []}})["orders"]["edges"]
        return [order(e["node"]) for e in edges]

    @strawberry.field
    async def tickets(self, info: strawberry.Info, first: int = 20) -> list[Ticket]:
        found = await self._tickets(info)
        return [ticket(t) for t in found[:first]]

    @strawberry.field
    async def open_ticket_count(self, info: strawberry.Info) -> int:
        found = await self._tickets(info)
        return sum(1 for t in found if t["status"] in OPEN_STATUSES)

    @strawberry.field
    async def last_seen_at(self, info: strawberry.Info) -> str | None:
        if not self.email:
            return None
        found = await _upstreams(info).posthog_get("/persons/", email=self.email)
        people = found.get("results") or []
        seen: str | None = people[0]["last_seen_at"] if people else None
        return seen

    @strawberry.field
    async def activity(self, info: strawberry.Info, first: int = 50) -> list[Event]:
        if not self.email:
            return []
        found = await _upstreams(info).posthog_get(
            "/events/", distinct_id=self.email, after=EVENTS_SINCE, limit=str(first)
        )
        return [event(e) for e in found.get("results") or []]


def _customer(node: Json) -> Customer:
    address = node.get("defaultAddress")
    return Customer(
        id=strawberry.ID(str(node["legacyResourceId"])),
        gid=node["id"],
        email=node.get("email"),
        phone=node.get("phone"),
        first_name=node.get("firstName"),
        last_name=node.get("lastName"),
        display_name=node["displayName"],
        locale=node["locale"],
        created_at=node["createdAt"],
        tags=node["tags"],
        address=Address(
            line1=address.get("address1"),
            city=address.get("city"),
            region=address.get("province"),
            postcode=address.get("zip"),
            country=address.get("countryCodeV2"),
        )
        if address
        else None,
    )


@strawberry.type
class Query:
    @strawberry.field
    async def customer(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> Customer | None:
        gid = f"gid://shopify/Customer/{id}"
        data = await _upstreams(info).shopify_query(PROFILE, {"id": gid})
        node = data["customer"]
        return _customer(node) if node else None

    @strawberry.field
    async def customers(self, info: strawberry.Info, first: int = 50) -> list[Customer]:
        data = await _upstreams(info).shopify_query(PAGE, {"first": first})
        return [_customer(node) for node in data["customers"]["nodes"]]


class _App(GraphQL[dict[str, Any], None]):
    def __init__(self, upstreams: Callable[[], Upstreams]) -> None:
        super().__init__(strawberry.Schema(query=Query), graphql_ide=None)
        self._make = upstreams
        self._upstreams: Upstreams | None = None

    async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
        if self._upstreams is None:
            self._upstreams = self._make()
        return {"upstreams": self._upstreams}


async def _ready(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def create_app() -> Starlette:
    graphql = _App(upstreams_from_environment)
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["POST"]),
            Route("/readyz", _ready),
        ]
    )
