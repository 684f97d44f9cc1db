"""The Zendesk simulator's real behaviours, as Zendesk documents them: the
per-minute limits (the account's, search's and the ticket lists' own), a
search index that lags writes, search's result caps and how repeated terms
combine. Driven in-process (``httpx.ASGITransport``) on a clock the test
moves, so nothing waits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from connectors.demo_world import World
from connectors.zendesk.simulator.server import ZendeskSimulator

WORLD = World(seed=7, size=40)
AUTH = ("agent@northwind.example/token", "zd-demo-token")


class Clock:
    def __init__(self) -> None:
        self.now = 60.0 * 16_667 + 20  # 20 s into a minute

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def simulator(clock: Clock, world: World = WORLD, **knobs: int) -> ZendeskSimulator:
    return ZendeskSimulator(world, clock=clock, **knobs)


async def client(sim: ZendeskSimulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sim.app), base_url="http://zd", auth=AUTH
    )


@pytest.fixture
async def http(
    clock: Clock,
) -> AsyncIterator[tuple[ZendeskSimulator, httpx.AsyncClient]]:
    sim = simulator(clock)
    async with await client(sim) as opened:
        yield sim, opened


def requester_with_tickets(sim: ZendeskSimulator, at_least: int = 1) -> int:
    counts: dict[int, int] = {}
    for ticket in sim.desk.tickets.values():
        counts[ticket["requester_id"]] = counts.get(ticket["requester_id"], 0) + 1
    return next(u for u, n in sorted(counts.items()) if n >= at_least)


async def search(
    http: httpx.AsyncClient, query: str, **params: object
) -> httpx.Response:
    return await http.get("/api/v2/search", params={"query": query, **params})


def ids(response: httpx.Response) -> set[int]:
    return {r["id"] for r in response.json()["results"]}


async def test_the_limits_are_an_enterprise_accounts_by_default(http) -> None:
    sim, client_ = http
    user = requester_with_tickets(sim)
    listed = await client_.get(f"/api/v2/users/{user}/tickets/requested")
    searched = await search(client_, "type:ticket")
    assert listed.headers["X-Rate-Limit"] == "700"
    assert listed.headers["ratelimit-limit"] == "700"
    assert listed.headers["ratelimit-remaining"] == "699"
    assert listed.headers["ratelimit-reset"] == "40"
    assert listed.headers["Zendesk-RateLimit-tickets-index"] == (
        "total=100; remaining=99; resets=40"
    )
    assert searched.headers["X-Rate-Limit-Remaining"] == "698"
    assert searched.headers["Zendesk-RateLimit-search-index"] == (
        "total=2500; remaining=2499; resets=40"
    )


async def test_the_account_limit_answers_429_until_the_next_minute(clock) -> None:
    sim = simulator(clock, rate_limit_per_minute=3)
    async with await client(sim) as http:
        statuses = [
            (await http.get("/api/v2/users/show_many?ids=1")).status_code
            for _ in range(4)
        ]
        refused = await http.get("/api/v2/users/show_many?ids=1")
        clock.now += 40
        again = await http.get("/api/v2/users/show_many?ids=1")
    assert statuses == [200, 200, 200, 429]
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "40"
    assert refused.headers["X-Rate-Limit-Remaining"] == "0"
    assert again.status_code == 200
    assert again.headers["X-Rate-Limit-Remaining"] == "2"


async def test_search_has_its_own_limit_which_counts_towards_the_accounts(
    clock,
) -> None:
    sim = simulator(clock, rate_limit_per_minute=4, search_per_minute=2)
    async with await client(sim) as http:
        searches = [(await search(http, "type:ticket")).status_code for _ in range(3)]
        other = await http.get("/api/v2/users/show_many?ids=1")
        last = await http.get("/api/v2/users/show_many?ids=1")
        spent = await http.get("/api/v2/users/show_many?ids=1")
    assert searches == [200, 200, 429]
    assert (other.status_code, last.status_code, spent.status_code) == (200, 200, 429)
    assert other.headers["X-Rate-Limit-Remaining"] == "1"


async def test_a_users_requested_tickets_spend_the_ticket_lists_limit(http) -> None:
    sim, client_ = http
    user = requester_with_tickets(sim)
    statuses = [
        (await client_.get(f"/api/v2/users/{user}/tickets/requested")).status_code
        for _ in range(101)
    ]
    shown = await client_.get("/api/v2/tickets/show_many", params={"ids": "1"})
    assert statuses == [200] * 100 + [429]
    assert shown.status_code == 200


async def test_a_new_ticket_is_shown_at_once_and_searchable_a_minute_later(
    http, clock
) -> None:
    sim, client_ = http
    user = requester_with_tickets(sim)
    created = await client_.post(
        "/api/v2/tickets.json",
        json={"ticket": {"requester_id": user, "comment": {"body": "Parcel lost"}}},
    )
    assert created.status_code == 201
    ticket = created.json()["ticket"]
    assert (ticket["status"], ticket["requester_id"]) == ("new", user)
    query = f"type:ticket requester:{user}"
    listed = await client_.get(f"/api/v2/users/{user}/tickets/requested")
    shown = await client_.get(
        "/api/v2/tickets/show_many", params={"ids": str(ticket["id"])}
    )
    before = await search(client_, query)
    clock.now += 59.9
    still = await search(client_, query)
    clock.now += 0.1
    after = await search(client_, query)
    assert ticket["id"] in {t["id"] for t in listed.json()["tickets"]}
    assert [t["id"] for t in shown.json()["tickets"]] == [ticket["id"]]
    assert ticket["id"] not in ids(before) | ids(still)
    assert ticket["id"] in ids(after)
    assert sim.desk.comments[ticket["id"]][0]["body"] == "Parcel lost"


async def test_search_answers_the_old_version_of_a_changed_ticket_until_indexed(
    http, clock
) -> None:
    sim, client_ = http
    sim.search_index.lag = 300
    ticket_id = next(i for i, t in sim.desk.tickets.items() if t["status"] != "closed")
    was = sim.desk.tickets[ticket_id]["status"]
    requester = sim.desk.tickets[ticket_id]["requester_id"]
    updated = await client_.put(
        f"/api/v2/tickets/{ticket_id}", json={"ticket": {"status": "closed"}}
    )
    query = f"type:ticket requester:{requester}"
    stale = {
        r["id"]: r["status"] for r in (await search(client_, query)).json()["results"]
    }
    current = await client_.get(f"/api/v2/tickets/{ticket_id}")
    clock.now += 300
    fresh = {
        r["id"]: r["status"] for r in (await search(client_, query)).json()["results"]
    }
    assert updated.status_code == 200
    assert (stale[ticket_id], current.json()["ticket"]["status"]) == (was, "closed")
    assert fresh[ticket_id] == "closed"


async def test_a_ticket_without_a_known_requester_or_a_comment_is_invalid(
    http,
) -> None:
    sim, client_ = http
    user = requester_with_tickets(sim)
    bodies = [
        {"ticket": {"requester_id": 1, "comment": {"body": "hi"}}},
        {"ticket": {"requester_id": user}},
        {"not": "a ticket"},
    ]
    answers = [await client_.post("/api/v2/tickets", json=b) for b in bodies]
    assert [a.status_code for a in answers] == [422, 422, 422]
    assert {a.json()["error"] for a in answers} == {"RecordInvalid"}
    bad_status = await client_.put(
        f"/api/v2/tickets/{next(iter(sim.desk.tickets))}",
        json={"ticket": {"status": "archived"}},
    )
    missing = await client_.put("/api/v2/tickets/1", json={"ticket": {}})
    assert (bad_status.status_code, missing.status_code) == (422, 404)


async def test_a_repeated_keyword_is_or_and_different_keywords_are_and(http) -> None:
    sim, client_ = http
    first = requester_with_tickets(sim, 2)
    second = next(
        t["requester_id"]
        for t in sim.desk.tickets.values()
        if t["requester_id"] != first
    )
    mine = {i for i, t in sim.desk.tickets.items() if t["requester_id"] == first}
    theirs = {i for i, t in sim.desk.tickets.items() if t["requester_id"] == second}
    status = sim.desk.tickets[min(mine)]["status"]
    same_status = {i for i in mine if sim.desk.tickets[i]["status"] == status}
    both = await search(client_, f"type:ticket requester:{first} requester:{second}")
    narrowed = await search(client_, f"type:ticket requester:{first} status:{status}")
    untyped = await search(client_, f"requester:{first}")
    emails = [sim.desk.users[u]["email"] for u in (first, second)]
    users = await client_.get(
        "/api/v2/users/search", params={"query": " ".join(f"email:{e}" for e in emails)}
    )
    assert ids(both) == mine | theirs
    assert ids(narrowed) == same_status
    assert ids(untyped) == set()
    assert {u["id"] for u in users.json()["users"]} == {first, second}


async def test_a_query_over_64_words_is_refused(http) -> None:
    _, client_ = http
    fits = await search(
        client_, "type:ticket " + " ".join(f"requester:{i}" for i in range(63))
    )
    over = await search(
        client_, "type:ticket " + " ".join(f"requester:{i}" for i in range(64))
    )
    assert (fits.status_code, over.status_code) == (200, 400)
    assert over.json()["error"] == "invalid"


async def test_search_counts_every_result_but_pages_through_1000(clock) -> None:
    sim = simulator(clock, world=World(seed=3, size=900))
    total = len(sim.desk.tickets)
    assert total > 1000
    async with await client(sim) as http:
        first = await search(http, "type:ticket", per_page=500)
        tenth = await search(http, "type:ticket", per_page=100, page=10)
        eleventh = await search(http, "type:ticket", per_page=100, page=11)
    assert first.json()["count"] == total
    assert len(first.json()["results"]) == 100
    assert len(tenth.json()["results"]) == 100
    assert tenth.json()["next_page"] is not None
    assert eleventh.status_code == 422
