"""ZendeskConnector against ZendeskSimulator over real loopback HTTP."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.base import SupportConnector
from connectors.demo_world import World
from connectors.errors import (
    UpstreamAuthError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from connectors.models import UpstreamChange
from connectors.retry import RetryPolicy
from connectors.simulator_server import serve_app
from connectors.zendesk import client as zendesk_client
from connectors.zendesk.client import ZendeskConnector
from connectors.zendesk.pagination import offset_pages
from connectors.zendesk.simulator.server import ZendeskSimulator
from connectors.zendesk.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    parse_event,
    verify_signature,
)
from tests.conftest import ANSWER_WAIT

FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)
WORLD = World(seed=7, size=80)
AUTH = ("agent@northwind.example/token", "secret-token")


@pytest.fixture
def sim() -> ZendeskSimulator:
    return ZendeskSimulator(WORLD, api_token="secret-token")


@pytest.fixture
async def base_url(sim: ZendeskSimulator) -> AsyncIterator[str]:
    async with serve_app(sim.app) as url:
        yield url


@pytest.fixture
async def zd(base_url: str) -> AsyncIterator[ZendeskConnector]:
    client = ZendeskConnector(
        base_url, email=AUTH[0].split("/")[0], api_token=AUTH[1], retry=FAST
    )
    yield client
    await client.aclose()


def user_ids(sim: ZendeskSimulator, n: int) -> list[str]:
    return [str(u) for u in sorted(sim.desk.users)[:n]]


def tickets_of(sim: ZendeskSimulator, user_id: str) -> set[str]:
    return {
        str(t["id"])
        for t in sim.desk.tickets.values()
        if str(t["requester_id"]) == user_id
    }


async def test_the_connector_is_a_support_connector(zd):
    assert isinstance(zd, SupportConnector)


async def test_users_by_id_keep_order_and_unknown_ids_are_none(sim, zd):
    ids = user_ids(sim, 3)
    found = await zd.customers_by_ids([ids[1], "30011229999999", ids[0]])
    assert [c.external_id if c else None for c in found] == [ids[1], None, ids[0]]
    assert found[0] is not None
    assert found[0].email == sim.desk.users[int(ids[1])]["email"]
    assert sim.requests["users/show_many"] == 1


async def test_users_by_email_are_found_in_one_search_per_25_addresses(sim, zd):
    emails = [sim.desk.users[int(u)]["email"] for u in user_ids(sim, 30)]
    found = await zd.customers_by_emails([emails[0].upper(), *emails[1:], "no@x.io"])
    assert set(found) == set(emails)
    assert sim.requests["users/search"] == 2


async def test_users_by_phone_share_the_user_search(sim, zd):
    phones = [u["phone"] for u in sim.desk.users.values() if u["phone"]][:5]
    found = await zd.customers_by_phones([*phones, "+15550000000"])
    assert sorted(found) == sorted(phones)
    assert all(found[p].phone == p for p in phones)
    assert sim.requests["users/search"] == 1


@pytest.mark.parametrize("n", [1, 10, 50])
async def test_ticket_calls_do_not_grow_with_the_number_of_requesters(sim, zd, n):
    ids = user_ids(sim, n)
    tickets = await zd.tickets_by_requesters(ids)
    for user_id in ids:
        assert {t.id for t in tickets[user_id]} == tickets_of(sim, user_id)
        created = [t.created_at for t in tickets[user_id]]
        assert created == sorted(created, reverse=True)
    total = sum(len(v) for v in tickets.values())
    assert sim.requests["search"] == max(1, math.ceil(total / 100))
    assert sim.requests["search"] <= 2
    assert sim.requests["users/{id}/tickets/requested"] == 0


async def test_ticket_search_is_followed_to_the_last_page(sim, base_url):
    zd = ZendeskConnector(
        base_url, email="agent@northwind.example", api_token="secret-token", page_size=3
    )
    try:
        ids = user_ids(sim, 20)
        tickets = await zd.tickets_by_requesters(ids)
    finally:
        await zd.aclose()
    total = sum(len(tickets_of(sim, u)) for u in ids)
    assert sum(len(v) for v in tickets.values()) == total
    assert sim.requests["search"] == math.ceil(total / 3)


async def test_a_batch_over_the_search_cap_is_split_until_it_fits(
    sim, base_url, monkeypatch
):
    monkeypatch.setattr(zendesk_client, "SEARCH_RESULT_LIMIT", 2)
    zd = ZendeskConnector(
        base_url, email="agent@northwind.example", api_token="secret-token", page_size=1
    )
    try:
        ids = user_ids(sim, 8)
        tickets = await zd.tickets_by_requesters(ids)
    finally:
        await zd.aclose()
    for user_id in ids:
        assert {t.id for t in tickets[user_id]} == tickets_of(sim, user_id)
    # only a requester over the cap on their own is listed (a page per ticket)
    heavy = [len(tickets_of(sim, u)) for u in ids if len(tickets_of(sim, u)) > 2]
    assert heavy
    assert sim.requests["users/{id}/tickets/requested"] == sum(heavy)


async def write(base_url: str, method: str, path: str, ticket: dict) -> dict:
    async with httpx.AsyncClient(
        base_url=base_url, auth=AUTH, timeout=ANSWER_WAIT
    ) as http:
        response = await http.request(method, path, json={"ticket": ticket})
    assert response.status_code in (200, 201), response.text
    written: dict = response.json()["ticket"]
    return written


async def new_ticket(sim, base_url: str, body: str) -> tuple[str, dict]:
    """A requester who has tickets, and a ticket they write now (search does
    not hold it yet: the index lags)."""
    user = next(u for u in user_ids(sim, 20) if tickets_of(sim, u))
    ticket = {"requester_id": int(user), "comment": {"body": body}}
    return user, await write(base_url, "POST", "/api/v2/tickets", ticket)


async def test_a_ticket_written_within_the_index_lag_is_read_through_show_many(
    sim, zd, base_url
):
    user, new = await new_ticket(sim, base_url, "Where is my parcel?")
    searched = await zd.tickets_by_requesters([user])
    sim.requests.reset()
    fresh = await zd.tickets_by_requesters([user], changed=[str(new["id"])])
    assert str(new["id"]) not in {t.id for t in searched[user]}
    assert [t.id for t in fresh[user]][0] == str(new["id"])
    assert {t.id for t in fresh[user]} == tickets_of(sim, user)
    assert (sim.requests["search"], sim.requests["tickets/show_many"]) == (1, 1)


async def test_changed_ids_read_meanwhile_do_not_hold_the_search_back(
    sim, zd, base_url
):
    """Given as an awaitable (the gateway's database read), the changed ids are
    awaited while the search is under way: the read here ends only once
    Zendesk has been searched, so awaiting it first would never end."""
    user, new = await new_ticket(sim, base_url, "Still waiting")
    sim.requests.reset()

    async def read_after_the_search() -> list[str]:
        while not sim.requests["search"]:
            await asyncio.sleep(0.001)
        return [str(new["id"])]

    fresh = await asyncio.wait_for(
        zd.tickets_by_requesters([user], changed=read_after_the_search()), 10
    )
    assert [t.id for t in fresh[user]][0] == str(new["id"])
    assert (sim.requests["search"], sim.requests["tickets/show_many"]) == (1, 1)


async def test_a_changed_ticket_is_current_and_a_deleted_one_is_dropped(
    sim, zd, base_url
):
    user = next(u for u in user_ids(sim, 40) if len(tickets_of(sim, u)) >= 2)
    changed_id, deleted_id = sorted(tickets_of(sim, user))[:2]
    was = sim.desk.tickets[int(changed_id)]["status"]
    now = "open" if was == "hold" else "hold"
    await write(base_url, "PUT", f"/api/v2/tickets/{changed_id}", {"status": now})
    del sim.desk.tickets[int(deleted_id)]  # search still holds it
    other = next(t for t in sim.desk.tickets.values() if str(t["requester_id"]) != user)
    searched = await zd.tickets_by_requesters([user])
    fresh = await zd.tickets_by_requesters(
        [user], changed=[changed_id, deleted_id, str(other["id"])]
    )
    stale = {t.id: t.status for t in searched[user]}
    current = {t.id: t.status for t in fresh[user]}
    assert deleted_id in stale
    assert stale[changed_id] == was
    assert deleted_id not in current
    assert current[changed_id] == now
    assert set(current) == tickets_of(sim, user)
    assert set(fresh) == {user}


async def test_comments_are_paged_to_the_end_and_keep_private_notes(sim, base_url):
    ticket_ids = [str(t) for t in list(sim.desk.tickets)[:15]]
    zd = ZendeskConnector(
        base_url, email="agent@northwind.example", api_token="secret-token", page_size=1
    )
    try:
        comments = await zd.comments_by_tickets([*ticket_ids, "99999999"])
    finally:
        await zd.aclose()
    assert comments["99999999"] == []
    for ticket_id in ticket_ids:
        expected = sim.desk.comments[int(ticket_id)]
        assert [c.id for c in comments[ticket_id]] == [str(c["id"]) for c in expected]
    assert any(not c.public for cs in comments.values() for c in cs)
    calls = sum(len(sim.desk.comments[int(t)]) for t in ticket_ids) + 1
    assert sim.requests["tickets/{id}/comments"] == calls


async def test_bad_satisfaction_ratings_are_listed_across_pages(sim, base_url):
    zd = ZendeskConnector(
        base_url, email="agent@northwind.example", api_token="secret-token", page_size=2
    )
    try:
        ratings = await zd.satisfaction_ratings(score="bad")
    finally:
        await zd.aclose()
    expected = [str(r["id"]) for r in sim.desk.ratings if r["score"] == "bad"]
    assert expected
    assert [r.id for r in ratings] == expected


async def test_a_429_with_retry_after_is_retried(sim, zd):
    sim.force_rate_limit(1, retry_after=0)
    found = await zd.customers_by_ids(user_ids(sim, 1))
    assert found[0] is not None
    assert sim.requests["users/show_many"] == 2


async def test_a_spent_search_limit_is_rate_limited_with_zendesks_retry_after():
    sim = ZendeskSimulator(
        WORLD, api_token="secret-token", search_per_minute=1, clock=lambda: 90.0
    )
    async with serve_app(sim.app) as url:
        zd = ZendeskConnector(
            url, email="agent@northwind.example", api_token="secret-token", retry=FAST
        )
        try:
            await zd.tickets_by_requesters(user_ids(sim, 1))
            with pytest.raises(UpstreamRateLimited) as limited:
                await zd.tickets_by_requesters(user_ids(sim, 1))
            found = await zd.customers_by_ids(user_ids(sim, 1))
        finally:
            await zd.aclose()
    assert limited.value.retry_after == 30  # the rest of the minute
    # not asked again: waiting 30 s would outlast the call's deadline
    assert sim.requests["search"] == 2
    assert found[0] is not None  # the account's limit is not spent


async def test_bad_credentials_are_fatal_and_not_retried(sim, base_url):
    zd = ZendeskConnector(base_url, oauth_token="wrong", retry=FAST)
    try:
        with pytest.raises(UpstreamAuthError):
            await zd.customers_by_ids(user_ids(sim, 1))
    finally:
        await zd.aclose()
    assert sim.requests["users/show_many"] == 1


async def test_5xx_is_retried_then_reported_unavailable(sim, zd):
    sim.fail_next(5, status=503)
    with pytest.raises(UpstreamUnavailable):
        await zd.tickets_by_requesters(user_ids(sim, 2))
    assert sim.requests["search"] == FAST.attempts


async def test_offset_paginator_stops_before_the_record_limit(sim, zd):
    pages = [
        page
        async for page, _ in offset_pages(
            zd.http,
            "/api/v2/search",
            "results",
            params={"query": "type:ticket"},
            per_page=5,
            max_records=20,
        )
    ]
    assert len(pages) == 4
    assert sim.requests["search"] == 4


async def test_simulator_speaks_zendesk_errors_and_headers(sim, base_url):
    async with httpx.AsyncClient(
        base_url=base_url, auth=AUTH, timeout=ANSWER_WAIT
    ) as http:
        unauthenticated = await http.get("/api/v2/users/1.json", auth=("x", "y"))
        missing = await http.get("/api/v2/tickets/1.json")
        beyond = await http.get("/api/v2/users/search", params={"page": 101})
        search_beyond = await http.get(
            "/api/v2/search", params={"query": "type:ticket", "page": 11}
        )
        user_id = next(u for u in sim.desk.users if len(tickets_of(sim, str(u))) >= 2)
        cursor = await http.get(
            f"/api/v2/users/{user_id}/tickets/requested", params={"page[size]": 1}
        )
    assert unauthenticated.status_code == 401
    assert unauthenticated.json() == {"error": "Couldn't authenticate you"}
    assert missing.status_code == 404
    assert missing.json() == {"error": "RecordNotFound", "description": "Not found"}
    assert beyond.status_code == 400
    assert search_beyond.status_code == 422
    body = cursor.json()
    assert body["meta"]["has_more"] is True
    assert "page%5Bafter%5D=" in body["links"]["next"]
    assert cursor.headers["X-Rate-Limit"] == "700"


async def test_rate_limit_per_minute_answers_429_with_retry_after(base_url):
    sim = ZendeskSimulator(WORLD, api_token="secret-token", rate_limit_per_minute=2)
    async with (
        serve_app(sim.app) as url,
        httpx.AsyncClient(base_url=url, auth=AUTH, timeout=ANSWER_WAIT) as http,
    ):
        statuses = [
            (await http.get("/api/v2/users/show_many?ids=1")).status_code
            for _ in range(3)
        ]
        limited = await http.get("/api/v2/users/show_many?ids=1")
    assert statuses == [200, 200, 429]
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert limited.headers["X-Rate-Limit-Remaining"] == "0"


async def test_signed_webhook_delivery_verifies_and_parses(sim):
    received: list[UpstreamChange] = []

    async def hook(request: Request) -> JSONResponse:
        body = await request.body()
        ok = verify_signature(
            body,
            request.headers[SIGNATURE_HEADER],
            request.headers[TIMESTAMP_HEADER],
            "whsec",
        )
        if not ok:
            return JSONResponse({"ok": False}, status_code=401)
        received.append(parse_event(body))
        return JSONResponse({"ok": True})

    ticket_id = next(iter(sim.desk.tickets))
    detail = sim.ticket_event_detail(ticket_id)
    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    async with serve_app(app) as url:
        good = await sim.send_webhook(
            f"{url}/hook",
            "ticket.status_changed",
            detail,
            "whsec",
            event={"current": "SOLVED", "previous": "OPEN"},
        )
        forged = await sim.send_webhook(f"{url}/hook", "ticket.created", detail, "x")
        again = await sim.send_webhook(
            f"{url}/hook",
            "ticket.status_changed",
            detail,
            "whsec",
            event_id=received[0].event_id,
        )
    assert (good.status_code, forged.status_code, again.status_code) == (200, 401, 200)
    change, duplicate = received
    assert duplicate.event_id == change.event_id
    assert change.topic == "ticket.status_changed"
    requester = str(sim.desk.tickets[ticket_id]["requester_id"])
    assert change.customer_external_id == requester
    assert change.payload["ticket_id"] == str(ticket_id)
