"""The same rules on every transport: a hostile document gets the same code
over HTTP POST, HTTP GET and WebSocket on ``/graphql`` and over HTTP and
WebSocket on ``/embed/graphql`` — refused before execution, and production
hides introspection and suggestions on each (``gateway.admission.gate``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import websockets
from strawberry.relay import to_base64

from gateway.runtime.services import Services
from tests.conftest import ANSWER_WAIT, graphql_socket
from tests.integration.gateway.transports import (
    API,
    EMBED,
    EVERY,
    Served,
    served,
)

pytestmark = pytest.mark.storage_independent

CUSTOMER = to_base64("Customer", 1)
EVENT = "edges { node { id occurredAt source kind summary actor } }"


def aliases(field: str, count: int) -> str:
    return "{ " + " ".join(f"a{i}: {field}" for i in range(count)) + " }"


def directives(count: int) -> str:
    return "{ __typename " + "@include(if: true) " * count + "}"


DEEP = "{ " + "a { " * 40 + "b" + " }" * 40 + " }"
TIMELINE_PAGE = f'timeline(customerId: "{CUSTOMER}", first: 100) {{ {EVENT} }}'
DIGITS = "9" * 5000

# (case, {endpoint: (document, variables)}, the code on every transport — or
# per endpoint, when the embed endpoint's tighter limits refuse it first)
HOSTILE = [
    ("40 levels deep", {"api": (DEEP, None), "embed": (DEEP, None)}, "QUERY_TOO_DEEP"),
    (
        "1,000 aliases of timeline(first: 100)",
        {
            "api": (aliases("__typename", 1000), None),
            "embed": (aliases(TIMELINE_PAGE, 1000), None),
        },
        {"api": "QUERY_TOO_MANY_TOKENS", "embed": "QUERY_TOO_LARGE"},
    ),
    (
        "31 aliases",
        {
            "api": (aliases("__typename", 31), None),
            "embed": (aliases("__typename", 31), None),
        },
        "TOO_MANY_ALIASES",
    ),
    (
        "51 directives on one field",
        {"api": (directives(51), None), "embed": (directives(51), None)},
        "TOO_MANY_DIRECTIVES",
    ),
    (
        "a page size given as a float",
        {
            "api": (
                "query($n: Int!) { customers(first: $n) { edges { node { "
                "orders(first: $n) { edges { node { id } } } } } } }",
                {"n": 100.0},
            ),
            "embed": (
                "query($n: Int!, $c: ID!) { "
                f"a: timeline(customerId: $c, first: $n) {{ {EVENT} }} "
                f"b: timeline(customerId: $c, first: $n) {{ {EVENT} }} }}",
                {"n": 100.0, "c": CUSTOMER},
            ),
        },
        "QUERY_TOO_COSTLY",
    ),
    (
        "a page size of 5,000 digits",
        {
            "api": (f"{{ customers(first: {DIGITS}) {{ totalCount }} }}", None),
            "embed": (
                f'{{ timeline(customerId: "{CUSTOMER}", first: {DIGITS}) '
                "{ edges { cursor } } }",
                None,
            ),
        },
        "BAD_USER_INPUT",
    ),
]


@pytest.fixture
async def gateway(db: Services) -> AsyncIterator[Served]:
    async with served(db) as running:
        yield running


@pytest.fixture
async def production(db: Services) -> AsyncIterator[Served]:
    async with served(db, env="production") as running:
        yield running


@pytest.mark.parametrize(("case", "documents", "expected"), HOSTILE)
async def test_a_hostile_document_gets_the_same_code_on_every_transport(
    gateway: Served, case: str, documents: dict, expected: str | dict[str, str]
) -> None:
    codes = (
        expected if isinstance(expected, dict) else dict.fromkeys(documents, expected)
    )
    seen, wanted = {}, {}
    for name, send in EVERY.items():
        endpoint = "embed" if name in EMBED else "api"
        query, variables = documents[endpoint]
        answer = await send(gateway, {"query": query, "variables": variables}, None)
        assert answer.status in (400, None), (case, name, answer)
        seen[name], wanted[name] = answer.codes[:1], [codes[endpoint]]
    assert seen == wanted, case


async def test_the_embed_repro_is_refused_before_execution_even_with_big_limits(
    db: Services,
) -> None:
    """The issue's repro with the size limits out of the way: the cost and
    alias limits still refuse it, in milliseconds, not a 6 s megabyte — the
    cost first, as the second page of 100 events passes it (1,602 of 1,500)
    before the sixth alias passes the alias limit; with the cost limit raised
    too, the aliases."""
    big = {"embed_max_tokens": 10**6, "embed_max_document_bytes": 10**6}
    query = {"query": aliases(TIMELINE_PAGE, 1000)}
    cost = {"embed_max_cost": 10**6}
    for raised, code in (({}, "QUERY_TOO_COSTLY"), (cost, "TOO_MANY_ALIASES")):
        async with served(db, **big, **raised) as running:
            for send in EMBED.values():
                answer = await send(running, query, None)
                assert answer.codes == [code]
                assert len(answer.text) < 1000


async def test_embed_limits_are_tighter_than_the_apis(gateway: Served) -> None:
    six = aliases("__typename", 6)
    for send in API.values():
        assert (await send(gateway, {"query": six}, None)).codes == []
    for send in EMBED.values():
        assert (await send(gateway, {"query": six}, None)).codes == ["TOO_MANY_ALIASES"]


async def test_introspection_is_refused_in_production_on_every_transport(
    production: Served,
) -> None:
    for name, send in EVERY.items():
        answer = await send(
            production, {"query": "{ __schema { types { name } } }"}, None
        )
        assert answer.codes[:1] == ["INTROSPECTION_DISABLED"], name


KINDS = "query($k: [TimelineKind!]) { %s }"
SUGGESTED = [
    ("api", {"query": "{ custmer { id } }"}, "GRAPHQL_VALIDATION_FAILED"),
    (
        "embed",
        {"query": "{ timelin { edges { cursor } } }"},
        "GRAPHQL_VALIDATION_FAILED",
    ),
    (
        "api",
        {
            "query": KINDS
            % f'customer(id: "{CUSTOMER}") {{ timeline(kinds: $k) {{ edges {{ cursor }} }} }}',
            "variables": {"k": ["ORDER_PLACD"]},
        },
        "BAD_USER_INPUT",
    ),
    (
        "embed",
        {
            "query": KINDS
            % f'timeline(customerId: "{CUSTOMER}", kinds: $k) {{ edges {{ cursor }} }}',
            "variables": {"k": ["ORDER_PLACD"]},
        },
        "BAD_USER_INPUT",
    ),
]


@pytest.mark.parametrize(("endpoint", "probe", "code"), SUGGESTED)
async def test_production_suggests_no_names_on_any_transport(
    production: Served, gateway: Served, endpoint: str, probe: dict, code: str
) -> None:
    """Neither a field's name nor an enum value's, over any transport."""
    transports = EMBED if endpoint == "embed" else API
    for name, send in transports.items():
        development = await send(gateway, probe, None)
        assert "Did you mean" in development.text, name
        answer = await send(production, probe, None)
        assert answer.codes == [code], name
        assert "Did you mean" not in answer.text, name


@pytest.mark.parametrize(
    "body", ['"a string"', "42", "null", "[]", "[1, 2]", '{"query": 5}', "\xff{"]
)
@pytest.mark.parametrize("path", ["/graphql", "/embed/graphql"])
async def test_a_body_that_is_not_a_request_object_is_400_with_a_code(
    gateway: Served, path: str, body: str
) -> None:
    import httpx

    headers = {"Content-Type": "application/json", **gateway.api_headers}
    if path.startswith("/embed"):
        headers["Authorization"] = f"Embed {gateway.embed_token}"
    async with httpx.AsyncClient(
        base_url=gateway.base_url, timeout=ANSWER_WAIT
    ) as http:
        response = await http.post(
            path, content=body.encode("latin-1"), headers=headers
        )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_only_graphql_transport_ws_is_offered(gateway: Served) -> None:
    """The legacy ``graphql-ws`` protocol ran operations around the gate."""
    import websockets

    for path in ("/graphql", f"/embed/graphql?token={gateway.embed_token}"):
        url = gateway.ws_base + path
        async with graphql_socket(url, "graphql-ws") as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), ANSWER_WAIT)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4406


async def test_allowlist_mode_holds_on_every_transport(db: Services) -> None:
    """WebSocket operations used to skip the persisted-query rules."""
    from gateway.admission.persisted import register

    allowed = "{ customers { totalCount } }"
    await register(db.sessions, allowed, "count")
    async with served(db, persisted_queries_only=True) as running:
        for name, send in API.items():
            assert (await send(running, {"query": allowed}, None)).codes == [], name
            other = await send(running, {"query": "{ __typename }"}, None)
            assert other.codes == ["PERSISTED_QUERY_NOT_ALLOWED"], name


@pytest.mark.parametrize(
    "payload",
    [
        {"query": 5},
        {"query": "{ __typename }", "variables": [1]},
        {"query": "{ __typename }", "operationName": 3},
        {"query": "{ __typename }", "extensions": "x"},
        {},
    ],
)
async def test_a_malformed_subscribe_is_refused_with_bad_request(
    gateway: Served, payload: dict
) -> None:
    for name in ("WebSocket", "embed WebSocket"):
        answer = await EVERY[name](gateway, payload, None)
        assert answer.codes == ["BAD_REQUEST"], (name, answer)


async def test_a_batch_takes_a_rate_limit_token_per_operation(db: Services) -> None:
    """As a socket's operations do: batching is no way around the limit."""
    import httpx

    settings = {"batching_enabled": True, "rate_limit_burst": 3}
    async with (
        served(db, rate_limit_per_minute=1, **settings) as running,
        httpx.AsyncClient(
            base_url=running.base_url,
            headers=running.api_headers,
            timeout=ANSWER_WAIT,
        ) as http,
    ):
        batch = [{"query": "{ __typename }"}] * 3
        assert (await http.post("/graphql", json=batch)).status_code == 200
        refused = await http.post("/graphql", json=batch[:1])
    assert refused.status_code == 429


@pytest.mark.parametrize(
    ("path", "served_to_another_origin"),
    [("/graphql", False), ("/embed/graphql", True)],
)
async def test_a_browser_page_on_another_origin_may_open_only_the_embed_socket(
    gateway: Served, path: str, served_to_another_origin: bool
) -> None:
    """The embed socket's token is in ``?token=``, never a cookie: any page
    may open it (the drop-in runs on the host tool's). ``/graphql``'s keeps
    Strawberry's refusal of other origins, as its HTTP endpoint sends no CORS
    headers; a client that is not a browser sends no ``Origin``."""
    url = gateway.ws_base + path + f"?token={gateway.embed_token}"
    assert await handshake(url, {"Origin": "https://helpdesk.example"}) == (
        101 if served_to_another_origin else 403
    )
    assert await handshake(url, {}) == 101


async def handshake(url: str, headers: dict[str, str]) -> int:
    """The status a WebSocket handshake got: 101 when it opened."""
    try:
        async with graphql_socket(url, additional_headers=headers):
            return 101
    except websockets.InvalidStatus as refused:
        return refused.response.status_code
