"""Each operation on a WebSocket reads as a new HTTP request would: a write
made between two operations on one socket is in the second's answer (the
loaders are the operation's, not the socket's), and the second answer carries
none of the first's partial errors."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets
from strawberry.relay import to_base64

from connectors.simulator_server import serve_app
from gateway.app import create_app
from gateway.auth.policy import Role
from tests.conftest import ADMIN, ANSWER_WAIT, graphql_socket
from tests.integration.gateway.conftest import Gateway
from tests.integration.gateway.surfaces import Maya, keys, maya, ws_url

__all__ = ["keys", "maya", "ws_url"]  # fixtures

TAGS = "query($id: ID!) { customer(id: $id) { tags } }"
TIMELINE = (
    "query($id: ID!) { customer(id: $id) { timeline(first: 20) "
    "{ unavailableSources } } }"
)
TAG = (
    "mutation($c: ID!, $t: [String!]!) { tagCustomer(customerId: $c, tags: $t) { id } }"
)


class Socket:
    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.sent = 0

    async def ask(self, query: str, **variables: Any) -> dict[str, Any]:
        self.sent += 1
        payload = {"query": query, "variables": variables}
        await self.ws.send(
            json.dumps({"id": str(self.sent), "type": "subscribe", "payload": payload})
        )
        # The suite's reads may wait seconds for CPU (tests/conftest.py: a
        # 30 s read deadline); a failing source's retries take ~1.3 s alone.
        message = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
        assert message["type"] == "next", message
        complete = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
        assert complete == {"id": str(self.sent), "type": "complete"}, complete
        body: dict[str, Any] = message["payload"]
        return body


async def open_socket(url: str, headers: dict[str, str]) -> Socket:
    ws = await graphql_socket(url)
    await ws.send(json.dumps({"type": "connection_init", "payload": headers}))
    assert "connection_ack" in await asyncio.wait_for(ws.recv(), ANSWER_WAIT)
    return Socket(ws)


async def test_a_write_between_two_operations_is_in_the_second_answer(
    maya: Maya,
    ws_url: str,
    keys: dict[Role, dict[str, str]],
    client: httpx.AsyncClient,
) -> None:
    socket = await open_socket(ws_url, keys[Role.SUPPORT])
    try:
        first = await socket.ask(TAGS, id=maya.id)
        assert first["data"]["customer"]["tags"] == []
        written = await client.post(
            "/graphql", json={"query": TAG, "variables": {"c": maya.id, "t": ["vip"]}}
        )
        assert "errors" not in written.json(), written.text
        second = await socket.ask(TAGS, id=maya.id)
        assert second["data"]["customer"]["tags"] == ["vip"]
    finally:
        await socket.ws.close()


async def test_an_operation_s_partial_errors_stay_in_its_own_answer(
    gateway: Gateway,
) -> None:
    """Zendesk fails during the first operation: its timeline reports it; the
    second operation, Zendesk healed, carries no error of the first."""
    customer = to_base64("Customer", 3)
    async with serve_app(create_app(services=gateway.services)) as base:
        socket = await open_socket(base.replace("http", "ws") + "/graphql", ADMIN)
        try:
            gateway.simulators.zendesk.fail_next(100, status=503)
            first = await socket.ask(TIMELINE, id=customer)
            gateway.simulators.heal()
            second = await socket.ask(TAGS, id=customer)
        finally:
            await socket.ws.close()
    assert first["data"]["customer"]["timeline"]["unavailableSources"] == ["ZENDESK"]
    assert [e["extensions"]["source"] for e in first["errors"]] == ["zendesk"]
    assert "errors" not in second, second
