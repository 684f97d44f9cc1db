"""What each role sees of one customer's personal data, whichever way it asks.

Roles × entry points × fields, with every expectation computed from
``gateway.auth.policy``'s table (``policy.apply``), never copied by hand: a
change to the table changes what is asserted, and a new entry point or field is
one line in ``ENTRY_POINTS`` or ``CUSTOMER_FIELDS``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import websockets

from connectors.simulator_server import serve_app
from gateway.app import create_app
from gateway.auth import policy
from gateway.auth.keys import create_key
from gateway.auth.policy import GRANTABLE_ROLES, PiiKind, Role
from gateway.ids import customer_pk
from gateway.services import Services
from tests.conftest import ADMIN

ROLES = sorted(GRANTABLE_ROLES)


@dataclass(frozen=True)
class Shown:
    path: tuple[str | int, ...]
    kind: PiiKind
    raw: object
    within: tuple[PiiKind, ...] = ()
    """Kinds of the fields it is reached through (``addresses`` for ``line1``)."""
    redacted: str | None = None
    """What a role that may not see it gets instead of null (``{pk}``: the id)."""

    def expected(self, role: Role, pk: int) -> object:
        if any(policy.apply(role, k, "x") is None for k in self.within):
            return None
        value = policy.apply(role, self.kind, self.raw)
        if value is None and self.redacted is not None:
            return self.redacted.format(pk=pk)
        return value


TASK_TITLE = "Call Maya about her refund"
CUSTOMER_FIELDS = (
    Shown(("email",), PiiKind.EMAIL, "maya@example.com"),
    Shown(("phone",), PiiKind.PHONE, "+14155550123"),
    Shown(("firstName",), PiiKind.NAME, "Maya"),
    Shown(("lastName",), PiiKind.NAME, "Lopez"),
    Shown(("displayName",), PiiKind.NAME, "Maya Lopez", redacted="Customer {pk}"),
    Shown(("birthDate",), PiiKind.BIRTH_DATE, "1990-04-12"),
    Shown(("birthMonth",), PiiKind.BIRTH_MONTH, 4),
    Shown(("addresses", 0, "city"), PiiKind.ADDRESS, "Oakland"),
    Shown(("addresses", 0, "line1"), PiiKind.STREET, "1 Main St", (PiiKind.ADDRESS,)),
    Shown(("addresses", 0, "postcode"), PiiKind.STREET, "94601", (PiiKind.ADDRESS,)),
    Shown(("notes", "edges", 0, "node", "body"), PiiKind.NOTE, "VIP", (PiiKind.NOTE,)),
    Shown(("tasks", "edges", 0, "node", "title"), PiiKind.TEXT, TASK_TITLE),
)
SELECTION = """email phone firstName lastName displayName birthDate birthMonth
  addresses { city line1 postcode } notes(first: 1) { edges { node { body } } }
  tasks(first: 1) { edges { node { title } } }"""

ENTRY_POINTS: dict[str, tuple[str, tuple[str | int, ...]]] = {
    "customer(id)": (
        f"query($id: ID!) {{ customer(id: $id) {{ {SELECTION} }} }}",
        ("customer",),
    ),
    "customer(email)": (
        f'{{ customer(email: "maya@example.com") {{ {SELECTION} }} }}',
        ("customer",),
    ),
    "customers": (
        f"{{ customers(first: 1) {{ edges {{ node {{ {SELECTION} }} }} }} }}",
        ("customers", "edges", 0, "node"),
    ),
    "node(Customer)": (
        f"query($id: ID!) {{ node(id: $id) {{ ... on Customer {{ {SELECTION} }} }} }}",
        ("node",),
    ),
    "segmentPreview": (
        '{ segmentPreview(filter: {country: "US"}) '
        f"{{ edges {{ node {{ {SELECTION} }} }} }} }}",
        ("segmentPreview", "edges", 0, "node"),
    ),
    "segment members": (
        f'{{ segment(name: "us") {{ members {{ edges {{ node {{ {SELECTION} }} }} }} }} }}',
        ("segment", "members", "edges", 0, "node"),
    ),
}

NOTE_NODE = "query($note: ID!) { node(id: $note) { ... on Note { body author } } }"
TIMELINE = """query($id: ID!) { customer(id: $id) {
  timeline(first: 20, sources: [CRM]) { edges { node {
    __typename summary ... on NoteAdded { body } } } } } }"""
EMBED_TIMELINE = """query($id: ID!) { timeline(customerId: $id, first: 20, sources: [CRM])
  { edges { node { __typename summary ... on NoteAdded { body } } } } }"""


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


@pytest.fixture
async def maya(client: httpx.AsyncClient) -> Maya:
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


@pytest.mark.parametrize("entry", ENTRY_POINTS)
async def test_each_role_sees_what_the_policy_gives_it_through_every_entry_point(
    client: httpx.AsyncClient,
    keys: dict[Role, dict[str, str]],
    maya: Maya,
    entry: str,
) -> None:
    query, path = ENTRY_POINTS[entry]
    for role in ROLES:
        data = await ask(client, keys[role], query, id=maya.id)
        customer = dig(data, path)
        seen = {f.path: dig(customer, f.path) for f in CUSTOMER_FIELDS}
        wanted = {f.path: f.expected(role, maya.pk) for f in CUSTOMER_FIELDS}
        assert seen == wanted, role


async def test_a_note_read_by_its_global_id_is_masked_by_role(
    client: httpx.AsyncClient, keys: dict[Role, dict[str, str]], maya: Maya
) -> None:
    for role in ROLES:
        note = (await ask(client, keys[role], NOTE_NODE, note=maya.note))["node"]
        assert note["body"] == policy.apply(role, PiiKind.NOTE, "VIP"), role
        assert note["author"] == "key:demo"


def _timeline_view(edges: list[dict[str, Any]]) -> dict[str, Any]:
    nodes = {e["node"]["__typename"]: e["node"] for e in edges}
    return {
        "note body": nodes["NoteAdded"]["body"],
        "note summary": nodes["NoteAdded"]["summary"],
        "task summary": nodes["TaskCreated"]["summary"],
    }


def _timeline_wanted(role: Role) -> dict[str, Any]:
    text = policy.apply(role, PiiKind.TEXT, "x") is not None
    return {
        "note body": policy.apply(role, PiiKind.NOTE, "VIP"),
        "note summary": "Note added",
        "task summary": f"Task: {TASK_TITLE}" if text else "Task created",
    }


async def test_timeline_items_are_masked_by_role(
    client: httpx.AsyncClient, keys: dict[Role, dict[str, str]], maya: Maya
) -> None:
    for role in ROLES:
        data = await ask(client, keys[role], TIMELINE, id=maya.id)
        edges = data["customer"]["timeline"]["edges"]
        assert _timeline_view(edges) == _timeline_wanted(role), role


async def test_an_embed_token_sees_its_customers_timeline_as_the_embed_role(
    client: httpx.AsyncClient, maya: Maya
) -> None:
    issued = await ask(
        client,
        ADMIN,
        "mutation($c: ID!) { createEmbedToken(customerId: $c) { token } }",
        c=maya.id,
    )
    response = await client.post(
        "/embed/graphql",
        json={"query": EMBED_TIMELINE, "variables": {"id": maya.id}},
        headers={"Authorization": f"Embed {issued['createEmbedToken']['token']}"},
    )
    edges = response.json()["data"]["timeline"]["edges"]
    assert _timeline_view(edges) == _timeline_wanted(Role.EMBED)


@pytest.fixture
async def ws_url(db: Services) -> AsyncIterator[str]:
    async with serve_app(create_app(services=db)) as base_url:
        yield base_url.replace("http", "ws") + "/graphql"


async def ws_query(
    url: str, headers: dict[str, str], query: str, **variables: Any
) -> dict[str, Any]:
    """One operation over graphql-transport-ws; its ``next`` payload."""
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": headers}))
        assert "connection_ack" in await asyncio.wait_for(ws.recv(), 5)
        payload = {"query": query, "variables": variables}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        message = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert message["type"] == "next", message
    body: dict[str, Any] = message["payload"]
    assert "errors" not in body, body
    return body["data"]


async def test_each_role_sees_the_same_over_websocket(
    ws_url: str, keys: dict[Role, dict[str, str]], maya: Maya
) -> None:
    query, path = ENTRY_POINTS["customer(id)"]
    for role in ROLES:
        customer = dig(await ws_query(ws_url, keys[role], query, id=maya.id), path)
        seen = {f.path: dig(customer, f.path) for f in CUSTOMER_FIELDS}
        assert seen == {f.path: f.expected(role, maya.pk) for f in CUSTOMER_FIELDS}
        note = (await ws_query(ws_url, keys[role], NOTE_NODE, note=maya.note))["node"]
        assert note["body"] == policy.apply(role, PiiKind.NOTE, "VIP"), role
