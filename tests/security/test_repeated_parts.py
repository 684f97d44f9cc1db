"""A GraphQL request naming one of its parts twice × every GraphQL surface ×
how the second hides: refused before anything runs (400 ``BAD_REQUEST``; a
socket's message closes it), nothing written, nothing answered from the held
lane. orjson keeps the last of two names, while a proxy, a WAF or a log in
front may read the first: what it inspected would not be what runs
(``gateway.http.repeated_parts``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
import websockets

from gateway.auth.policy import Role
from gateway.http import repeated_parts
from gateway.http.repeated_parts import MESSAGE, TOO_DEEP
from tests.conftest import ANSWER_WAIT, graphql_socket, row_counts
from tests.security.conftest import Stage
from tests.security.leaks import assert_no_leak

pytestmark = pytest.mark.storage_independent

HARMLESS = json.dumps("{ __typename }")
CREATE = json.dumps(
    'mutation { createCustomer(input: {email: "twice@example.com"}) { id } }'
)
DEEP = "[" * 1000 + "]" * 1000
BODIES: dict[str, Callable[[Stage], str]] = {
    # the first copy looks harmless; the one orjson keeps writes
    "query twice": lambda stage: f'{{"query": {HARMLESS}, "query": {CREATE}}}',
    "query twice, the second escaped": lambda stage: (
        f'{{"query": {HARMLESS}, "\\u0071uery": {CREATE}}}'
    ),
    "variables twice": lambda stage: (
        '{"query": "query($id: ID!) { customer(id: $id) { id } }", '
        f'"variables": {{"id": "{stage.subject.gid}"}}, "variables": {{"id": "x"}}}}'
    ),
    "operationName twice": lambda stage: (
        '{"query": "query A { __typename } query B { __typename }", '
        '"operationName": "A", "operationName": "B"}'
    ),
    "extensions twice": lambda stage: (
        f'{{"query": {HARMLESS}, "extensions": {{}}, "extensions": {{}}}}'
    ),
    "twice in a batch's operation": lambda stage: (
        f'[{{"query": {HARMLESS}}}, {{"query": {HARMLESS}, "query": {CREATE}}}]'
    ),
    # a member named as a socket message's envelope is no reason to look
    # anywhere else in an HTTP body
    "query twice beside a payload": lambda stage: (
        f'{{"payload": {{}}, "query": {HARMLESS}, "query": {CREATE}}}'
    ),
    # too deep for the stdlib's parser to re-read (orjson reads 1,024 levels)
    "query twice beside 1,000 levels": lambda stage: (
        f'{{"query": {HARMLESS}, "query": {CREATE}, "x": {DEEP}}}'
    ),
}
ENDPOINTS = {
    "/graphql": lambda stage: stage.keys[Role.ADMIN],
    "/embed/graphql": lambda stage: f"Embed {stage.embed_token}",
}


@pytest.mark.parametrize("body", list(BODIES))
@pytest.mark.parametrize("path", list(ENDPOINTS))
async def test_a_body_naming_a_part_twice_is_refused_and_nothing_runs(
    stage: Stage, path: str, body: str
) -> None:
    before = await row_counts(stage.services)
    response = await stage.http.post(
        path,
        content=BODIES[body](stage).encode(),
        headers={
            "Authorization": ENDPOINTS[path](stage),
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 400, response.text[:500]
    answer = response.json()
    assert answer["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert answer["errors"][0]["message"] in (MESSAGE, TOO_DEEP)
    assert "data" not in answer
    assert_no_leak(stage, response.text)
    assert await row_counts(stage.services) == before


@pytest.mark.parametrize("part", ["query", "variables", "operationName"])
async def test_a_get_naming_a_part_twice_is_refused(stage: Stage, part: str) -> None:
    values = {
        "query": ("{ __typename }", "{ __schema { types { name } } }"),
        "variables": ("{}", '{"a": 1}'),
        "operationName": ("A", "B"),
    }[part]
    params = [(part, value) for value in values]
    if part != "query":
        params.append(("query", "query A { __typename } query B { __typename }"))
    response = await stage.http.get(
        "/graphql",
        params=params,
        headers={"Authorization": stage.keys[Role.ADMIN]},
    )
    assert response.status_code == 400, response.text[:500]
    assert response.json()["errors"][0]["message"] == MESSAGE


async def test_a_held_answer_is_not_served_to_a_body_naming_its_query_twice(
    stage: Stage,
) -> None:
    """The held lane answers a warm view before any route: it hands such a
    body to the full path, which refuses it."""
    query = json.dumps("query($id: ID!) { customer(id: $id) { id email } }")
    variables = json.dumps({"id": stage.subject.gid})
    admin = {
        "Authorization": stage.keys[Role.ADMIN],
        "Content-Type": "application/json",
    }
    once = f'{{"query": {query}, "variables": {variables}}}'.encode()
    for _ in range(3):  # stored, then held
        held = await stage.http.post("/graphql", content=once, headers=admin)
        assert held.json()["data"]["customer"]["email"] == stage.subject.email
    for twice in (
        f'{{"query": {query}, "query": {query}, "variables": {variables}}}',
        f'{{"payload": {{}}, "query": {HARMLESS}, "query": {query}, '
        f'"variables": {variables}}}',
        f'{{"query": {HARMLESS}, "query": {query}, "variables": {variables}, '
        f'"x": {DEEP}}}',
    ):
        refused = await stage.http.post(
            "/graphql", content=twice.encode(), headers=admin
        )
        assert refused.status_code == 400
        assert stage.subject.email not in refused.text


async def test_a_body_with_escapes_and_names_elsewhere_is_served(stage: Stage) -> None:
    """Escapes in values, and a variable of its own named ``query``, are not a
    part named twice (the control)."""
    body = (
        '{"query": "query($query: String!) { __type(name: $query) { name } }", '
        '"variables": {"query": "caf\\u00e9 \\u0041", "note": {"query": "x"}}}'
    )
    response = await stage.http.post(
        "/graphql",
        content=body.encode(),
        headers={
            "Authorization": stage.keys[Role.ADMIN],
            "Content-Type": "application/json",
        },
    )
    assert response.json() == {"data": {"__type": None}}


SOCKET_MESSAGES = {
    "query twice": f'{{"query": {HARMLESS}, "query": {CREATE}}}',
    "payload twice": f'{{"query": {HARMLESS}}}, "payload": {{"query": {CREATE}}}',
    "query twice beside 1,000 levels": (
        f'{{"query": {HARMLESS}, "query": {CREATE}, "variables": {{"x": {DEEP}}}}}'
    ),
}


@pytest.mark.parametrize("message", list(SOCKET_MESSAGES))
async def test_a_socket_message_naming_a_part_twice_runs_nothing(
    stage: Stage, message: str
) -> None:
    url = stage.base_url.replace("http://", "ws://") + "/graphql"
    before = await row_counts(stage.services)
    async with graphql_socket(url) as ws:
        init = {
            "type": "connection_init",
            "payload": {"Authorization": stage.keys[Role.ADMIN]},
        }
        await ws.send(json.dumps(init))
        ack = json.loads(await asyncio.wait_for(ws.recv(), ANSWER_WAIT))
        assert ack["type"] == "connection_ack"
        await ws.send(
            '{"type": "subscribe", "id": "1", "payload": '
            + SOCKET_MESSAGES[message]
            + "}"
        )
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), ANSWER_WAIT)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4400
    assert await row_counts(stage.services) == before


async def test_a_body_is_read_again_once_at_most(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stdlib's second read (~ orjson's cost, ~70 ms for the largest body
    built to be slow) happens once per request — not in the held lane for a
    request it would not answer, nor in both readings of the full path."""
    reads: list[int] = []
    as_sent = repeated_parts._as_sent

    def counted(data: bytes) -> object:
        reads.append(len(data))
        return as_sent(data)

    monkeypatch.setattr(repeated_parts, "_as_sent", counted)
    escaped = (
        '{"query": "query($n: String!) { __type(name: $n) { name } }", '
        '"variables": {"n": "caf\\u00e9"}}'
    )
    for credentials in (stage.keys[Role.ADMIN], "Bearer nobody"):
        reads.clear()
        await stage.http.post(
            "/graphql",
            content=escaped.encode(),
            headers={"Authorization": credentials, "Content-Type": "application/json"},
        )
        assert len(reads) <= 1, credentials
