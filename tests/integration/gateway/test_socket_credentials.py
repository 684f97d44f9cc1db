"""An open WebSocket is only as good as its credentials: a revoked API key
closes it within 10 s (``KEY_MEMORY_SECONDS``), a JWT at its ``exp`` and an
embed token at its expiry — with 4403, streaming subscription or not — and a
new operation on a socket whose key was revoked closes it at once."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
import pytest
import websockets
from pydantic import SecretStr
from strawberry.relay import to_base64

from gateway.auth.embed_tokens import create_token
from gateway.auth.keys import create_key, revoke_key
from gateway.auth.policy import Role
from gateway.relay.ids import customer_pk
from gateway.runtime.services import Services
from tests.conftest import ANSWER_WAIT, graphql_socket
from tests.integration.gateway.transports import Served, served

pytestmark = pytest.mark.storage_independent

LIVE = "subscription($id: ID!) { customerTimeline(customerId: $id) { summary } }"
JWT_SECRET = "s3cret-for-hs256-tests-0123456789"


async def a_customer(gateway: Served) -> str:
    async with httpx.AsyncClient(
        base_url=gateway.base_url,
        headers=gateway.api_headers,
        timeout=ANSWER_WAIT,
    ) as http:
        created = await http.post(
            "/graphql",
            json={
                "query": 'mutation { createCustomer(input: {email: "s@example.com"}) '
                "{ id } }"
            },
        )
    return str(created.json()["data"]["createCustomer"]["id"])


@asynccontextmanager
async def subscribed(
    url: str, init: dict[str, Any], customer: str
) -> AsyncIterator[websockets.ClientConnection]:
    async with graphql_socket(url) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        assert (
            json.loads(await asyncio.wait_for(ws.recv(), ANSWER_WAIT))["type"]
            == "connection_ack"
        )
        payload = {"query": LIVE, "variables": {"id": customer}}
        await ws.send(
            json.dumps({"id": "live", "type": "subscribe", "payload": payload})
        )
        yield ws


async def drain(ws: websockets.ClientConnection, timeout: float) -> None:
    while True:
        await asyncio.wait_for(ws.recv(), timeout)


async def closed_after(
    ws: websockets.ClientConnection, timeout: float
) -> tuple[int, float]:
    """The close code, and the seconds it took; messages before it are skipped."""
    started = time.monotonic()
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await drain(ws, timeout)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, time.monotonic() - started


@pytest.fixture
async def gateway(db: Services) -> AsyncIterator[Served]:
    async with served(db, jwt_secret=SecretStr(JWT_SECRET)) as running:
        yield running


async def test_a_revoked_key_closes_its_streaming_socket_within_ten_seconds(
    gateway: Served,
) -> None:
    customer = await a_customer(gateway)
    key, _ = await create_key(gateway.services.sessions, "soon-revoked", Role.SUPPORT)
    init = {"Authorization": f"Bearer {key}"}
    async with subscribed(gateway.ws_base + "/graphql", init, customer) as ws:
        await asyncio.sleep(0.5)
        await revoke_key(gateway.services.sessions, "soon-revoked")
        code, seconds = await closed_after(ws, 15)
    assert code == 4403
    assert seconds <= 10.5


async def test_a_new_operation_after_revocation_closes_the_socket(
    gateway: Served,
) -> None:
    customer = await a_customer(gateway)
    key, _ = await create_key(gateway.services.sessions, "revoked", Role.SUPPORT)
    init = {"Authorization": f"Bearer {key}"}
    async with subscribed(gateway.ws_base + "/graphql", init, customer) as ws:
        await revoke_key(gateway.services.sessions, "revoked")
        gateway.services.auth._keys.clear()  # this replica's memory has lapsed
        query = {"query": "{ __typename }"}
        await ws.send(json.dumps({"id": "2", "type": "subscribe", "payload": query}))
        code, seconds = await closed_after(ws, 5)
    assert code == 4403
    assert seconds < 2


async def test_a_jwt_socket_is_closed_at_its_exp(gateway: Served) -> None:
    customer = await a_customer(gateway)
    exp = time.time() + 2
    token = jwt.encode(
        {"sub": "u-1", "exp": int(exp) + 1, "roles": ["support"]},
        JWT_SECRET,
        algorithm="HS256",
    )
    init = {"Authorization": f"Bearer {token}"}
    async with subscribed(gateway.ws_base + "/graphql", init, customer) as ws:
        code, _ = await closed_after(ws, 10)
        late = time.time() - (int(exp) + 1)
    assert code == 4403
    assert -0.1 <= late < 1.5


async def test_an_embed_socket_is_closed_when_its_token_expires(
    gateway: Served,
) -> None:
    customer = await a_customer(gateway)
    secret = gateway.services.settings.secret_key.get_secret_value()
    pk = customer_pk(customer)
    # expiry is a whole second: 4 to 5 s of life, time for a busy machine to
    # connect before it (2 s left as little as 1, and the socket was refused)
    token, expires = create_token(secret, pk, 5)
    url = gateway.ws_base + f"/embed/graphql?token={token}"
    async with subscribed(url, {}, to_base64("Customer", pk)) as ws:
        code, _ = await closed_after(ws, 10)
        late = time.time() - expires.timestamp()
    assert code == 4403
    assert -0.1 <= late < 1.5
