"""A request naming ``Authorization`` twice × every surface × the order of
the two: refused before anything reads it (400 ``BAD_REQUEST`` in the
surface's shape; a WebSocket's handshake refused), nothing stored, nothing
answered from a cache. Each surface read the first of the two, while a proxy
or a log in front may read the other (``gateway.http.one_authorization``).
So are two credentials where a socket or a link carries them: a
``connection_init`` payload's ``Authorization`` and ``authorization``, an embed
socket's header and ``?token=``, two ``?token=``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from connectors.posthog.destination import SECRET_HEADER as POSTHOG_SECRET_HEADER
from gateway.auth.policy import Role
from gateway.demo.simulation import POSTHOG_WEBHOOK_SECRET
from tests.conftest import ANSWER_WAIT, HANDSHAKE_WAIT, graphql_socket, row_counts
from tests.security.conftest import SEGMENT, Stage
from tests.security.leaks import assert_no_leak
from tests.security.surfaces import WS_REFUSAL_CODES, socket

pytestmark = pytest.mark.storage_independent

GRAPHQL = "graphql"
SEGMENT_SHAPE = "segment"
PLAIN = "plain"


@dataclass(frozen=True)
class Surface:
    name: str
    method: str
    path: str
    shape: str
    body: Callable[[Stage], dict[str, Any] | None] = lambda stage: None
    params: dict[str, str] | None = None
    headers: dict[str, str] | None = None


def _create(stage: Stage) -> dict[str, Any]:
    return {
        "query": "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }",
        "variables": {"i": {"email": "twice@example.com", "firstName": "Twice"}},
    }


SURFACES = [
    Surface("graphql_post", "POST", "/graphql", GRAPHQL, _create),
    Surface(
        "graphql_get", "GET", "/graphql", GRAPHQL, params={"query": "{ __typename }"}
    ),
    Surface(
        "graphiql_page", "GET", "/graphql", GRAPHQL, headers={"Accept": "text/html"}
    ),
    Surface(
        "embed",
        "POST",
        "/embed/graphql",
        GRAPHQL,
        lambda stage: {
            "query": "query($id: ID!) { timeline(customerId: $id, first: 1) "
            "{ edges { node { summary } } } }",
            "variables": {"id": stage.subject.gid},
        },
    ),
    Surface(
        "ingest",
        "POST",
        "/v1/identify",
        SEGMENT_SHAPE,
        lambda stage: {"userId": "twice", "traits": {"email": "twice@example.com"}},
    ),
    Surface(
        "export",
        "GET",
        f"/segments/{SEGMENT}/export",
        PLAIN,
        params={"format": "jsonl"},
    ),
    Surface(
        "webhook",
        "POST",
        "/webhooks/posthog",
        PLAIN,
        lambda stage: {
            "event": {
                "uuid": "0190c1c4-0000-7000-8000-0000000000bb",
                "event": "$pageview",
                "distinct_id": "twice@example.com",
                "properties": {},
                "timestamp": "2025-03-20T13:14:09.402Z",
            },
            "person": None,
        },
        headers={POSTHOG_SECRET_HEADER: POSTHOG_WEBHOOK_SECRET},
    ),
    Surface("metrics", "GET", "/metrics", PLAIN),
    Surface("nothing_served", "GET", "/nope", PLAIN),
]

PAIRS: dict[str, Callable[[Stage], tuple[str, str]]] = {
    "admin_then_garbage": lambda stage: (stage.keys[Role.ADMIN], "Bearer garbage"),
    "garbage_then_admin": lambda stage: ("Bearer garbage", stage.keys[Role.ADMIN]),
    "analyst_then_admin": lambda stage: (
        stage.keys[Role.ANALYST],
        stage.keys[Role.ADMIN],
    ),
    "embed_then_admin": lambda stage: (
        f"Embed {stage.embed_token}",
        stage.keys[Role.ADMIN],
    ),
    "admin_twice": lambda stage: (stage.keys[Role.ADMIN], stage.keys[Role.ADMIN]),
}


def _error_code(shape: str, body: dict[str, Any]) -> str | None:
    if shape == GRAPHQL:
        return str(body["errors"][0]["extensions"]["code"])
    return body.get("code")


@pytest.mark.parametrize("pair", list(PAIRS))
@pytest.mark.parametrize("surface", SURFACES, ids=lambda s: s.name)
async def test_two_authorization_headers_are_refused_on_every_http_surface(
    stage: Stage, surface: Surface, pair: str
) -> None:
    first, second = PAIRS[pair](stage)
    headers = [
        *(surface.headers or {}).items(),
        ("Authorization", first),
        ("Authorization", second),
    ]
    before = await row_counts(stage.services)
    response = await stage.http.request(
        surface.method,
        surface.path,
        params=surface.params,
        json=surface.body(stage),
        headers=headers,
    )
    assert response.status_code == 400, response.text[:500]
    assert _error_code(surface.shape, response.json()) == "BAD_REQUEST"
    assert "one Authorization header" in response.text
    assert_no_leak(stage, response.text)
    assert await row_counts(stage.services) == before


async def test_one_authorization_header_is_served_as_before(stage: Stage) -> None:
    """The control: the same request with the first header alone runs."""
    response = await stage.http.post(
        "/graphql",
        json={"query": "{ __typename }"},
        headers=[("Authorization", stage.keys[Role.ADMIN])],
    )
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("path", ["/graphql", "/embed/graphql"])
async def test_a_socket_handshake_with_two_authorization_headers_is_refused(
    stage: Stage, path: str
) -> None:
    url = stage.base_url.replace("http://", "ws://") + path
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(
            url,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            additional_headers=[
                ("Authorization", stage.keys[Role.ADMIN]),
                ("Authorization", "Bearer garbage"),
            ],
            open_timeout=HANDSHAKE_WAIT,
        ):
            pass
    assert refused.value.response.status_code == 403


async def test_a_held_answer_is_not_served_to_two_authorization_headers(
    stage: Stage,
) -> None:
    """The held-answers lane (``HeldAnswers``) serves a warm view from memory
    before any route runs: the refusal comes before it."""
    view = {
        "query": "query($id: ID!) { customer(id: $id) { id email } }",
        "variables": {"id": stage.subject.gid},
    }
    admin = [("Authorization", stage.keys[Role.ADMIN])]
    for _ in range(3):  # stored, then held
        held = await stage.http.post("/graphql", json=view, headers=admin)
        assert held.json()["data"]["customer"]["email"] == stage.subject.email
    for pair in ("admin_then_garbage", "garbage_then_admin", "admin_twice"):
        first, second = PAIRS[pair](stage)
        response = await stage.http.post(
            "/graphql",
            json=view,
            headers=[("Authorization", first), ("Authorization", second)],
        )
        assert response.status_code == 400, response.text[:500]
        assert stage.subject.email not in response.text


SOCKET_DOCUMENT = "{ __typename }"
EMBED_DOCUMENT = (
    "query($id: ID!) { timeline(customerId: $id, first: 1) { edges { node { id } } } }"
)


async def test_a_socket_payload_naming_authorization_twice_is_refused(
    stage: Stage,
) -> None:
    """``Authorization`` and ``authorization`` in one ``connection_init``: the
    socket is closed unacknowledged; either alone is served (the control)."""
    admin = stage.keys[Role.ADMIN]
    for init in (
        {"Authorization": admin, "authorization": "Bearer garbage"},
        {"Authorization": "Bearer garbage", "authorization": admin},
        {"Authorization": admin, "AUTHORIZATION": admin},
    ):
        answer = await socket(stage, "/graphql", init, SOCKET_DOCUMENT, {})
        assert answer.close_code in WS_REFUSAL_CODES, (init.keys(), answer.text)
    for key in ("Authorization", "authorization"):
        answer = await socket(stage, "/graphql", {key: admin}, SOCKET_DOCUMENT, {})
        assert answer.data == {"__typename": "Query"}, answer.text


async def test_an_embed_socket_naming_two_tokens_is_refused(stage: Stage) -> None:
    """Two ``?token=``, or a header and a ``?token=``: closed unacknowledged;
    one token is served (the control)."""
    token = quote(stage.embed_token)
    variables = {"id": stage.subject.gid}
    twice = await socket(
        stage,
        f"/embed/graphql?token={token}&token={token}",
        {},
        EMBED_DOCUMENT,
        variables,
    )
    assert twice.close_code in WS_REFUSAL_CODES, twice.text
    once = await socket(
        stage, f"/embed/graphql?token={token}", {}, EMBED_DOCUMENT, variables
    )
    assert once.data is not None, once.text
    both = await _embed_socket_with_header(stage, token)
    assert both in WS_REFUSAL_CODES, both


async def _embed_socket_with_header(stage: Stage, token: str) -> int | None:
    """The close code of an embed socket sent a token both ways."""
    url = stage.base_url.replace("http://", "ws://") + f"/embed/graphql?token={token}"
    header = [("Authorization", f"Embed {stage.embed_token}")]
    try:
        async with graphql_socket(url, additional_headers=header) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            await asyncio.wait_for(ws.recv(), ANSWER_WAIT)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None
    return None


async def test_a_timeline_link_naming_two_tokens_is_refused(stage: Stage) -> None:
    token = quote(stage.embed_token)
    twice = await stage.http.get(f"/embed/timeline?token={token}&token={token}")
    assert twice.status_code == 400, twice.text[:300]
    once = await stage.http.get(f"/embed/timeline?token={token}")
    assert once.status_code == 200, once.text[:300]
