"""A ticket created (or changed) in Zendesk is in the very next read after its
webhook, although Zendesk search — which answers a level's tickets — has not
indexed it: through the gateway's HTTP API, its webhook endpoint and the
simulators on loopback, whose search index lags writes (here by an hour).
And what a level costs Zendesk: one search, plus one ``show_many`` only when
webhooks announced tickets within the index's lag."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from connectors.demo_world import World
from connectors.simulator_server import serve_app
from gateway.app import create_app
from gateway.db.models import ZendeskTicketChange
from gateway.demo.simulation import (
    ZENDESK_EMAIL,
    ZENDESK_TOKEN,
    ZENDESK_WEBHOOK_SECRET,
    Simulators,
    simulated_upstreams,
)
from gateway.runtime.services import Services, open_services
from tests.conftest import ADMIN, ANSWER_WAIT
from tests.servers import REDIS_KINDS

pytestmark = pytest.mark.storage_independent

TICKETS = """query($id: ID!) { customer(id: $id) {
  openTicketCount tickets(first: 50) { edges { node { id status } } } } }"""
COMMENTS = """query($id: ID!) { customer(id: $id) {
  tickets(first: 50) { edges { node { id comments { id body } } } } } }"""
PAGE = """{ customers(first: 50) { edges { node {
  email tickets(first: 50) { edges { node { id } } } } } } }"""


class Desk:
    """The gateway served on loopback over this test's own simulators."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        sims: Simulators,
        world: World,
        services: Services,
    ):
        self.http = http
        self.sims = sims
        self.zendesk = sims.zendesk
        self.world = world
        self.services = services

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    def requesters(self) -> list[tuple[str, int]]:
        """(email, Zendesk user id) of world customers who wrote in."""
        by_email = {u["email"]: u["id"] for u in self.zendesk.desk.users.values()}
        asked = {t["requester_id"] for t in self.zendesk.desk.tickets.values()}
        return [
            (c.email, by_email[c.email])
            for c in self.world.customers
            if by_email.get(c.email) in asked
        ]

    async def customer_id(self, email: str) -> str:
        data = await self.gql(
            "query($e: String!) { customer(email: $e) { id } }", {"e": email}
        )
        return str(data["customer"]["id"])

    async def tickets(self, customer_id: str) -> dict[str, str]:
        data = await self.gql(TICKETS, {"id": customer_id})
        edges = data["customer"]["tickets"]["edges"]
        return {e["node"]["id"]: e["node"]["status"] for e in edges}

    async def upstream(self, method: str, path: str, ticket: dict[str, Any]) -> Any:
        """A write to Zendesk itself (a customer writing in, an agent)."""
        async with httpx.AsyncClient(
            base_url=self.sims.urls["zendesk"],
            auth=(f"{ZENDESK_EMAIL}/token", ZENDESK_TOKEN),
            timeout=ANSWER_WAIT,
        ) as zendesk:
            response = await zendesk.request(method, path, json={"ticket": ticket})
        assert response.status_code in (200, 201), response.text
        return response.json()["ticket"]

    async def new_ticket(self, user_id: int) -> str:
        ticket = await self.upstream(
            "POST",
            "/api/v2/tickets",
            {"requester_id": user_id, "comment": {"body": "My parcel never came"}},
        )
        return str(ticket["id"])

    async def webhook(self, kind: str, about: str | dict[str, object]) -> None:
        """A signed delivery of ``kind`` about a ticket (its id) or a user."""
        detail = (
            self.zendesk.ticket_event_detail(int(about))
            if isinstance(about, str)
            else about
        )
        response = await self.zendesk.send_webhook(
            str(self.http.base_url.join("/webhooks/zendesk")),
            kind,
            detail,
            ZENDESK_WEBHOOK_SECRET,
        )
        assert response.json() == {"status": "processed"}, response.text

    async def searched(self, user_id: int) -> set[str]:
        """What Zendesk search answers for the requester right now."""
        async with httpx.AsyncClient(
            base_url=self.sims.urls["zendesk"],
            auth=(f"{ZENDESK_EMAIL}/token", ZENDESK_TOKEN),
            timeout=ANSWER_WAIT,
        ) as zendesk:
            response = await zendesk.get(
                "/api/v2/search", params={"query": f"type:ticket requester:{user_id}"}
            )
        return {str(r["id"]) for r in response.json()["results"]}

    def calls(self) -> dict[str, int]:
        return self.zendesk.requests.snapshot()


@asynccontextmanager
async def desk_on(
    seeded: Services, world: World, **settings: Any
) -> AsyncIterator[Desk]:
    """Simulators of this test's own (it writes tickets other tests must not
    see), their search an hour behind, and the gateway over ``settings``."""
    async with simulated_upstreams(world) as sims:
        sims.zendesk.search_index.lag = 3600
        configured = sims.settings(seeded.settings.model_copy(update=settings))
        async with (
            open_services(configured) as services,
            serve_app(create_app(services=services)) as base,
            # several workers share two cores: a first read (links, a cluster's
            # round trips) took over httpx's default 5 s once in the suite
            httpx.AsyncClient(base_url=base, headers=ADMIN, timeout=30) as http,
        ):
            yield Desk(http, sims, world, services)


@pytest.fixture(params=["memory", *REDIS_KINDS])
async def desk(
    request: pytest.FixtureRequest, seeded: Services, world: World, cache_prefix: str
) -> AsyncIterator[Desk]:
    """With the in-process cache, the real Redis, and a Redis Cluster."""
    settings: dict[str, Any] = {"cache_prefix": cache_prefix}
    if request.param != "memory":
        settings["redis_url"] = request.getfixturevalue(REDIS_KINDS[request.param])
    async with desk_on(seeded, world, **settings) as opened:
        yield opened


async def test_a_new_ticket_is_in_the_next_read_after_its_webhook(desk: Desk) -> None:
    email, user_id = desk.requesters()[0]
    customer = await desk.customer_id(email)
    before = await desk.tickets(customer)  # cached now, the response too
    new = await desk.new_ticket(user_id)
    assert new not in await desk.searched(user_id)  # the index lags
    assert new not in await desk.tickets(customer)  # nothing announced it yet
    await desk.webhook("ticket.created", new)
    desk.sims.reset_counts()
    after = await desk.tickets(customer)
    assert after == {new: "NEW", **before}
    assert list(after)[0] == new  # newest first
    assert desk.calls() == {"search": 1, "tickets/show_many": 1}
    again = await desk.tickets(customer)
    assert again == after
    assert desk.sims.total_requests()["zendesk"] == 2  # the read is cached


async def test_a_changed_ticket_reads_current_after_its_webhook(desk: Desk) -> None:
    email, user_id = desk.requesters()[1]
    customer = await desk.customer_id(email)
    before = await desk.tickets(customer)
    ticket_id, was = next(iter(before.items()))
    now = "hold" if was != "HOLD" else "open"
    await desk.upstream("PUT", f"/api/v2/tickets/{ticket_id}", {"status": now})
    await desk.webhook("ticket.status_changed", ticket_id)
    after = await desk.tickets(customer)
    assert after == {**before, ticket_id: now.upper()}


async def test_once_search_has_caught_up_a_level_is_one_search_again(
    desk: Desk, seeded: Services
) -> None:
    email, user_id = desk.requesters()[2]
    customer = await desk.customer_id(email)
    new = await desk.new_ticket(user_id)
    await desk.webhook("ticket.created", new)
    desk.zendesk.search_index.catch_up()
    async with seeded.sessions() as session, session.begin():  # the lag has passed
        await session.execute(
            update(ZendeskTicketChange).values(
                changed_at=datetime(2000, 1, 1, tzinfo=UTC)
            )
        )
    await desk.webhook("user.active_changed", {"id": str(user_id)})  # evicts
    desk.sims.reset_counts()
    assert new in await desk.tickets(customer)
    assert desk.calls() == {"search": 1}


async def test_a_page_of_50_costs_one_search_and_one_show_many_for_announced_tickets(
    seeded: Services, world: World
) -> None:
    async with desk_on(seeded, world, cache_enabled=False) as desk:
        linked = await desk.gql(PAGE)  # links the page's customers first
        emails = {e["node"]["email"] for e in linked["customers"]["edges"]}
        page = [user for email, user in desk.requesters() if email in emails]
        tickets = [
            t for t in desk.zendesk.desk.tickets.values() if t["requester_id"] in page
        ]
        desk.sims.reset_counts()
        cold = await desk.gql(PAGE)
        assert len(emails) == 50
        assert seen(cold) == {str(t["id"]) for t in tickets}
        searches = max(1, math.ceil(len(tickets) / 100))
        assert desk.calls() == {"search": searches}
        new = [await desk.new_ticket(user) for user in page[:3]]
        for ticket_id in new:
            await desk.webhook("ticket.created", ticket_id)
        desk.sims.reset_counts()
        fresh = await desk.gql(PAGE)
        assert seen(fresh) == seen(cold) | set(new)
        assert desk.calls() == {"search": searches, "tickets/show_many": 1}


def seen(page: Any) -> set[str]:
    """The page's ticket ids (``tickets`` is null for customers not in Zendesk)."""
    return {
        t["node"]["id"]
        for c in page["customers"]["edges"]
        for t in (c["node"]["tickets"] or {"edges": []})["edges"]
    }


async def test_a_new_comment_is_in_the_next_read_after_its_webhook_list_cached_or_not(
    desk: Desk,
) -> None:
    """Comments are cached by ticket; a change finds them through the
    customer's cached ticket list, and through the tickets webhooks announced:
    here the list is not cached (its store refused, an eviction having come
    while it was fetched), and the webhook's ticket has its comments read
    again all the same."""
    email, user_id = desk.requesters()[3]
    customer = await desk.customer_id(email)
    before = await desk.gql(COMMENTS, {"id": customer})
    node = before["customer"]["tickets"]["edges"][0]["node"]
    ticket = desk.zendesk.desk.tickets[int(node["id"])]
    caches = desk.services.caches
    assert caches is not None
    await caches.zendesk_tickets.forget([str(user_id)])  # the comments stay
    desk.zendesk.desk.comments[ticket["id"]].append(
        {
            **desk.zendesk.desk.comments[ticket["id"]][-1],
            "id": 990_000_001,
            "body": "Any news?",
            "plain_body": "Any news?",
        }
    )
    await desk.webhook("ticket.comment_added", str(ticket["id"]))
    after = await desk.gql(COMMENTS, {"id": customer})
    edges = {e["node"]["id"]: e["node"] for e in after["customer"]["tickets"]["edges"]}
    assert [c["body"] for c in edges[node["id"]]["comments"]][-1] == "Any news?"
