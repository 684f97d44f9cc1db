"""One customer with every kind of personal data, a key per role, and the
ways to ask (HTTP, WebSocket), shared by the policy and audit surface tests."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from connectors.simulator_server import serve_app
from gateway.app import create_app
from gateway.auth.keys import create_key
from gateway.auth.policy import GRANTABLE_ROLES, Role
from gateway.db import models
from gateway.relay.ids import customer_pk
from gateway.runtime.services import Services
from tests.conftest import ADMIN, ANSWER_WAIT, graphql_socket

ROLES = sorted(GRANTABLE_ROLES)
TASK_TITLE = "Call Maya about her refund"


def dig(data: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        if data is None:
            return None
        data = data[step]
    return data


@dataclass
class Maya:
    id: str
    pk: int
    note: str


VISITED_PATH = "/account;jsessionid=S3SS10N?email=maya@example.com"
VISITED = f"https://maya:pa55@shop.example{VISITED_PATH}"
VISIT_PROPERTIES = {"url": VISITED, "path": VISITED_PATH, "email": "maya@example.com"}
WEB_EVENTS = (
    ("page", "Account of maya@example.com", VISIT_PROPERTIES),
    ("track", "Product Viewed", {"path": "/p/42;ref=mail?email=maya@example.com"}),
)
"""(type, name, properties) of Maya's web events, oldest first: a page whose
title names her, a standard event; the URL's user info, ``;params`` and query
carry a password, a session id and her email."""


@pytest.fixture
async def maya(db: Services, client: httpx.AsyncClient) -> Maya:
    """Maya, with a note, a task, web events (``WEB_EVENTS``) and a saved
    segment ``us`` she is in."""

    async def admin(query: str, **variables: Any) -> dict[str, Any]:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables}
        )
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        return body["data"]

    created = await admin(
        'mutation { createCustomer(input: {email: "maya@example.com", '
        'phone: "+14155550123", firstName: "Maya", lastName: "Lopez", '
        'birthDate: "1990-04-12", addresses: [{kind: SHIPPING, country: "US", '
        'city: "Oakland", line1: "1 Main St", postcode: "94601"}]}) { id } }'
    )
    cid = created["createCustomer"]["id"]
    note = await admin(
        'mutation($c: ID!) { addNote(customerId: $c, body: "VIP") { id } }', c=cid
    )
    await admin(
        "mutation($c: ID!, $t: String!) { createTask(customerId: $c, title: $t) "
        "{ id } }",
        c=cid,
        t=TASK_TITLE,
    )
    await admin('mutation { createSegment(name: "us", filter: {country: "US"}) '
                "{ name } }")  # fmt: skip
    async with db.sessions() as session, session.begin():
        session.add_all(
            models.TrackedEvent(
                message_id=f"visit-{n}",
                customer_id=customer_pk(cid),
                type=type_,
                name=name,
                properties=properties,
                occurred_at=models.utcnow() + timedelta(seconds=n),
            )
            for n, (type_, name, properties) in enumerate(WEB_EVENTS)
        )
    return Maya(id=cid, pk=customer_pk(cid), note=note["addNote"]["id"])


@pytest.fixture
async def keys(db: Services) -> dict[Role, dict[str, str]]:
    headers = {}
    for role in ROLES:
        key, _ = await create_key(db.sessions, f"{role}-{time.monotonic_ns()}", role)
        headers[role] = {"Authorization": f"Bearer {key}"}
    return headers


async def ask(
    client: httpx.AsyncClient, headers: dict[str, str], query: str, **variables: Any
) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]


async def ask_embedded(
    client: httpx.AsyncClient, customer_id: str, query: str, **variables: Any
) -> httpx.Response:
    """``query`` on ``/embed/graphql`` under an embed token the admin issued
    for the customer (``customer_id``: its global id); the raw response."""
    issued = await ask(
        client,
        ADMIN,
        "mutation($c: ID!) { createEmbedToken(customerId: $c) { token } }",
        c=customer_id,
    )
    return await client.post(
        "/embed/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Embed {issued['createEmbedToken']['token']}"},
    )


@pytest.fixture
async def ws_url(db: Services) -> AsyncIterator[str]:
    async with serve_app(create_app(services=db)) as base_url:
        yield base_url.replace("http", "ws") + "/graphql"


async def ws_query(
    url: str, headers: dict[str, str], query: str, **variables: Any
) -> dict[str, Any]:
    """One operation over graphql-transport-ws; its ``next`` payload."""
    async with graphql_socket(url) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": headers}))
        assert "connection_ack" in await asyncio.wait_for(ws.recv(), ANSWER_WAIT)
        payload = {"query": query, "variables": variables}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        message = json.loads(await asyncio.wait_for(ws.recv(), ANSWER_WAIT))
    assert message["type"] == "next", message
    body: dict[str, Any] = message["payload"]
    assert "errors" not in body, body
    return body["data"]
