"""Identical reads in flight sent once (``UpstreamHTTP.share_reads``), on real
sockets: an upstream on loopback that holds each answer until the test lets
it go, so reads overlap for as long as a test needs.

What is shared: a read (a ``GET``, or a ``POST`` that says it is one) identical
in method, URL, body, headers, query, cost and priority, begun since the
caller's call scope opened. What is not: anything that differs, a write, a
read begun before the caller's scope opened (it may have left before a change
the caller saw done), background reads, and every read of a client not told
to share."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.errors import UpstreamTimeout, UpstreamUnavailable
from connectors.retry import RetryPolicy
from connectors.scope import Outcome, Priority, call_scope
from connectors.shopify.admin_api import AdminApi
from connectors.shopify.cost import is_mutation
from connectors.shopify.discounts import CREATE
from connectors.shopify.erasure import REQUEST_ERASURE
from connectors.shopify.queries import ORDER_LINES_WINDOWS
from connectors.simulator_server import serve_app
from connectors.upstream_http import UpstreamHTTP

HELD = 5.0
"""Seconds a scope of these tests gives its calls: longer than any hold."""


@dataclass
class Upstream:
    """What the held upstream heard, and the switch that lets answers go."""

    url: str = ""
    heard: list[tuple[str, str, bytes]] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    """Paths whose caller hung up before the answer was let go."""
    go: asyncio.Event = field(default_factory=asyncio.Event)
    status: int = 200

    async def arrived(self, count: int) -> None:
        """Once ``count`` requests have been heard."""
        async with asyncio.timeout(HELD):
            while len(self.heard) < count:
                await asyncio.sleep(0.005)


def held_app(upstream: Upstream) -> Starlette:
    """Answers each request with its arrival's number (``n``), once the test
    lets answers go; ``/now…`` at once (a write that answers while reads are
    held); ``/graphql.json`` as Shopify would."""

    async def answer(request: Request) -> Response:
        body = await request.body()
        upstream.heard.append((request.method, str(request.url), body))
        n = len(upstream.heard)
        while not upstream.go.is_set() and not request.url.path.startswith("/now"):
            if await request.is_disconnected():
                upstream.gone.append(request.url.path)
                return Response(status_code=499)
            await asyncio.sleep(0.005)
        if request.url.path == "/graphql.json":
            cost = {"requestedQueryCost": 10, "actualQueryCost": 10}
            shopify = {"data": {"n": n}, "extensions": {"cost": cost}}
            return JSONResponse(shopify, status_code=upstream.status)
        answer = {"n": n, "items": [{"id": 1}, {"id": 2}]}
        return JSONResponse(answer, status_code=upstream.status)

    return Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    found = Upstream()
    async with serve_app(held_app(found)) as url:
        found.url = url
        yield found


@dataclass
class Budget:
    """A ``CallGuard`` that admits every call and counts what it is told."""

    admitted: list[float] = field(default_factory=list)
    settled: list[float] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    background_deadline: float = HELD

    async def admit(self, connector: str, cost: float, *args: Any, **kw: Any) -> None:
        self.admitted.append(cost)

    async def settle(self, connector: str, extra: float) -> None:
        self.settled.append(extra)

    def record(self, connector: str, outcome: Outcome) -> None:
        self.outcomes.append(outcome)


@pytest.fixture
async def http(upstream: Upstream) -> AsyncIterator[UpstreamHTTP]:
    client = UpstreamHTTP(
        "test", upstream.url, retry=RetryPolicy(attempts=1), observer=_heard
    )
    client.share_reads = True
    client.guard = Budget()
    OBSERVED.clear()
    try:
        yield client
    finally:
        await client.aclose()


OBSERVED: list[str] = []


def _heard(connector: str, outcome: str) -> None:
    OBSERVED.append(outcome)


async def joined(count: int) -> None:
    """Once ``count`` callers have joined a read in flight."""
    async with asyncio.timeout(HELD):
        while OBSERVED.count("shared") < count:
            await asyncio.sleep(0.005)


async def scoped_read(
    http: UpstreamHTTP, after: asyncio.Event | None = None, seconds: float = HELD
) -> Any:
    """``GET /a`` by a caller of its own call scope, opened at once; the read
    itself once ``after`` is set (a caller begun before the read it joins)."""
    with call_scope(seconds, Priority.INTERACTIVE):
        if after is not None:
            await after.wait()
        return await http.get_json("/a")


Read = Callable[[UpstreamHTTP], Awaitable[Any]]


def get(path: str = "/a", **kw: Any) -> Read:
    return lambda http: http.get_json(path, **kw)


def post(body: Any, **kw: Any) -> Read:
    return lambda http: http.post_json("/q", body, **kw)


async def together(
    http: UpstreamHTTP,
    upstream: Upstream,
    reads: list[Read],
    priorities: list[Priority] | None = None,
) -> list[Any]:
    """``reads`` by callers of their own scopes, all opened before any read
    begins; the upstream lets the answers go once it heard the first."""
    opened = asyncio.Barrier(len(reads))

    async def caller(read: Read, priority: Priority) -> Any:
        with call_scope(HELD, priority):
            await opened.wait()
            return await read(http)

    priorities = priorities or [Priority.INTERACTIVE] * len(reads)
    callers = [
        asyncio.create_task(caller(r, p))
        for r, p in zip(reads, priorities, strict=True)
    ]
    await upstream.arrived(1)
    await asyncio.sleep(0.05)  # any other request would have been heard by now
    upstream.go.set()
    return await asyncio.gather(*callers, return_exceptions=True)


@pytest.mark.parametrize(
    "read",
    [
        get(),
        get("/a", params={"q": "x y", "n": 2}),
        post({"query": "{ a }"}, read=True),
    ],
    ids=["get", "get with a query", "post read"],
)
async def test_identical_reads_in_flight_are_sent_once(
    http: UpstreamHTTP, upstream: Upstream, read: Read
) -> None:
    answers = await together(http, upstream, [read] * 4)

    assert len(upstream.heard) == 1
    assert answers == [{"n": 1, "items": [{"id": 1}, {"id": 2}]}] * 4
    # each caller holds its own copy: one changing it changes no other's
    assert len({id(a) for a in answers}) == 4
    assert len({id(a["items"]) for a in answers}) == 4
    assert OBSERVED.count("ok") == 1
    assert OBSERVED.count("shared") == 3
    budget = http.guard
    assert isinstance(budget, Budget)
    assert budget.admitted == [1.0]


@pytest.mark.parametrize(
    ("first", "second", "priorities"),
    [
        (get("/a"), get("/b"), None),
        (get(params={"n": 1}), get(params={"n": 2}), None),
        (get(headers={"X-A": "1"}), get(headers={"X-A": "2"}), None),
        (get(cost=1), get(cost=2), None),
        (get(limit="search"), get(limit="export"), None),
        (get(hold=1.0), get(hold=2.0), None),
        (get(), get(), [Priority.INTERACTIVE, Priority.BACKGROUND]),
        (post({"a": 1}, read=True), post({"a": 2}, read=True), None),
        (post({"a": 1}), post({"a": 1}), None),  # a POST is a write unless said
        (post({"a": 1}, read=False), post({"a": 1}, read=False), None),
        (get(read=False), get(read=False), None),
    ],
    ids=[
        "path", "query", "header", "cost", "limit", "hold", "priority", "body",
        "post", "post write", "get said a write",
    ],
)  # fmt: skip
async def test_reads_that_differ_and_writes_are_each_sent(
    http: UpstreamHTTP,
    upstream: Upstream,
    first: Read,
    second: Read,
    priorities: list[Priority] | None,
) -> None:
    answers = await together(http, upstream, [first, second], priorities)

    assert len(upstream.heard) == 2
    assert not any(isinstance(a, BaseException) for a in answers), answers
    assert "shared" not in OBSERVED


async def test_a_read_begun_before_the_callers_scope_opened_is_not_joined(
    http: UpstreamHTTP, upstream: Upstream
) -> None:
    """It may have left before a change the later caller saw done (another
    replica's write, answered before the later request began)."""

    early = asyncio.create_task(scoped_read(http))
    await upstream.arrived(1)
    late = asyncio.create_task(scoped_read(http))
    await upstream.arrived(2)
    upstream.go.set()

    assert [(await early)["n"], (await late)["n"]] == [1, 2]
    assert "shared" not in OBSERVED


async def test_a_caller_begun_before_a_read_joins_it_even_as_a_third(
    http: UpstreamHTTP, upstream: Upstream
) -> None:
    """Of two reads in flight, a caller joins the one begun since its scope
    opened: the newest."""
    opened = asyncio.Event()

    early = asyncio.create_task(scoped_read(http))
    await upstream.arrived(1)
    joiner = asyncio.create_task(scoped_read(http, opened))
    await asyncio.sleep(0.01)  # its scope is open
    newer = asyncio.create_task(scoped_read(http))
    await upstream.arrived(2)
    opened.set()
    await joined(1)
    upstream.go.set()

    answers = [await early, await newer, await joiner]
    assert len(upstream.heard) == 2
    assert [a["n"] for a in answers] == [1, 2, 2]


@pytest.mark.parametrize("where", ["background", "not shared"])
async def test_reads_outside_a_scope_or_of_a_client_not_sharing_are_each_sent(
    http: UpstreamHTTP, upstream: Upstream, where: str
) -> None:
    if where == "not shared":
        http.share_reads = False
        answers = await together(http, upstream, [get()] * 3)
    else:
        reads = [asyncio.create_task(http.get_json("/a")) for _ in range(3)]
        await upstream.arrived(3)
        upstream.go.set()
        answers = await asyncio.gather(*reads)
    assert len(upstream.heard) == 3
    assert sorted(a["n"] for a in answers) == [1, 2, 3]


async def test_a_failed_read_fails_every_caller_alike(
    http: UpstreamHTTP, upstream: Upstream
) -> None:
    upstream.status = 503
    answers = await together(http, upstream, [get()] * 3)

    assert len(upstream.heard) == 1
    assert all(isinstance(a, UpstreamUnavailable) for a in answers), answers


async def test_the_caller_who_sent_it_leaving_leaves_the_read_to_the_others(
    http: UpstreamHTTP, upstream: Upstream
) -> None:
    sent = asyncio.Event()

    joiners = [asyncio.create_task(scoped_read(http, sent)) for _ in range(2)]
    await asyncio.sleep(0.01)  # their scopes are open
    sender = asyncio.create_task(scoped_read(http))
    await upstream.arrived(1)
    sent.set()
    await joined(2)
    sender.cancel()
    await asyncio.sleep(0.05)
    upstream.go.set()

    assert [(await j)["n"] for j in joiners] == [1, 1]
    with pytest.raises(asyncio.CancelledError):
        await sender
    assert len(upstream.heard) == 1
    assert upstream.gone == []


async def test_a_read_every_caller_left_is_cut_as_an_unshared_one_is(
    http: UpstreamHTTP, upstream: Upstream
) -> None:
    opened = asyncio.Barrier(2)

    async def read() -> Any:
        with call_scope(HELD, Priority.INTERACTIVE):
            await opened.wait()
            return await http.get_json("/a")

    callers = [asyncio.create_task(read()) for _ in range(2)]
    await upstream.arrived(1)
    await joined(1)
    for caller in callers:
        caller.cancel()
    async with asyncio.timeout(HELD / 5):  # cut, not left to its deadline
        while not upstream.gone:
            await asyncio.sleep(0.005)
    assert upstream.gone == ["/a"]

    upstream.go.set()
    with call_scope(HELD, Priority.INTERACTIVE):
        assert (await http.get_json("/a"))["n"] == 2  # sent anew


async def test_a_joiner_with_a_short_deadline_times_out_alone(
    http: UpstreamHTTP, upstream: Upstream
) -> None:
    """It waits for the read no longer than its own deadline; the read, and
    the caller whose call it is, go on."""
    sent = asyncio.Event()

    short = asyncio.create_task(scoped_read(http, sent, seconds=0.2))
    await asyncio.sleep(0.01)  # its scope is open
    sender = asyncio.create_task(scoped_read(http))
    await upstream.arrived(1)
    sent.set()
    with pytest.raises(UpstreamTimeout):
        await short
    upstream.go.set()

    assert (await sender)["n"] == 1
    assert len(upstream.heard) == 1
    assert OBSERVED.count("shared") == 1


async def test_the_budget_is_charged_and_settled_once_for_every_caller(
    http: UpstreamHTTP, upstream: Upstream
) -> None:
    """Shopify's answer says what a query cost: the budget is settled to it
    by the call, once, not by each caller it answered."""
    read = post({"query": "{ a }"}, read=True, cost=10.0, cost_of=lambda body: 4.0)
    await together(http, upstream, [read] * 3)

    budget = http.guard
    assert isinstance(budget, Budget)
    assert (budget.admitted, budget.settled) == ([10.0], [-6.0])


async def test_a_read_left_by_every_caller_is_joined_by_no_one_after(
    http: UpstreamHTTP, upstream: Upstream
) -> None:
    """Cut, it would answer a later caller with its cancellation."""
    sent = asyncio.Event()

    later = asyncio.create_task(scoped_read(http, sent))  # scope open before
    await asyncio.sleep(0.01)
    sender = asyncio.create_task(scoped_read(http))
    await upstream.arrived(1)
    sender.cancel()
    await asyncio.sleep(0)  # the call is told, not yet unwound
    sent.set()
    await upstream.arrived(2)
    upstream.go.set()

    assert (await later)["n"] == 2
    assert "shared" not in OBSERVED


async def test_a_read_whose_deadline_comes_much_earlier_is_not_joined(
    http: UpstreamHTTP, upstream: Upstream
) -> None:
    """Joined, it would cut the later caller at the sender's deadline."""
    sent = asyncio.Event()

    patient = asyncio.create_task(scoped_read(http, sent))
    await asyncio.sleep(0.01)
    hurried = asyncio.create_task(scoped_read(http, seconds=1.0))
    await upstream.arrived(1)
    sent.set()
    await upstream.arrived(2)
    upstream.go.set()

    assert [(await hurried)["n"], (await patient)["n"]] == [1, 2]


async def test_after_its_own_write_a_scope_joins_no_read_begun_before_it(
    http: UpstreamHTTP, upstream: Upstream
) -> None:
    """The write answered before the read it would join: that read may have
    been answered without it."""
    opened = asyncio.Event()

    async def writer() -> Any:
        with call_scope(HELD, Priority.INTERACTIVE):
            await opened.wait()
            await http.post_json("/now/write", {"a": 1})
            return await http.get_json("/a")

    writing = asyncio.create_task(writer())
    await asyncio.sleep(0.01)  # the writer's scope is open
    read = asyncio.create_task(scoped_read(http))
    await upstream.arrived(1)
    opened.set()
    await upstream.arrived(3)
    upstream.go.set()

    assert [m for m, _, _ in upstream.heard] == ["GET", "POST", "GET"]
    assert [(await read)["n"], (await writing)["n"]] == [1, 3]
    assert "shared" not in OBSERVED


@pytest.mark.parametrize(
    ("document", "sent"),
    [(ORDER_LINES_WINDOWS, 1), (CREATE, 2)],
    ids=["query", "mutation"],
)
async def test_shopify_queries_are_shared_and_its_mutations_never(
    http: UpstreamHTTP, upstream: Upstream, document: str, sent: int
) -> None:
    api = AdminApi(http, "/graphql.json", max_throttle_wait=1.0, observer=None)
    variables = {"ids": ["gid://shopify/Customer/1"], "first": 20, "input": {}}
    read: Read = lambda _: api.query(document, variables)  # noqa: E731
    answers = await together(http, upstream, [read, read])

    assert len(upstream.heard) == sent
    assert not any(isinstance(a, BaseException) for a in answers), answers


def test_a_shopify_document_with_a_mutation_is_never_shared() -> None:
    assert is_mutation(CREATE)
    assert is_mutation(REQUEST_ERASURE)
    assert not is_mutation(ORDER_LINES_WINDOWS)
    assert is_mutation("query A { a } mutation B { b }")
    assert is_mutation("fragment F on A { a } mutation B { b { ...F } }")
    assert not is_mutation("query A { mutation }")
