"""What each role sees of one customer's personal data, whichever way it asks.

Roles × entry points × fields, with every expectation computed from
``gateway.auth.policy``'s table (``policy.apply``), never copied by hand: a
change to the table changes what is asserted, and a new entry point or field is
one line in ``ENTRY_POINTS`` or ``CUSTOMER_FIELDS``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from gateway.auth import policy
from gateway.auth.keys import create_key
from gateway.auth.policy import PiiKind, Role
from gateway.schema.timeline_events import PLAIN_SUMMARIES
from gateway.timeline.items import Kind
from tests.integration.gateway.conftest import Gateway
from tests.integration.gateway.surfaces import (
    ROLES,
    TASK_TITLE,
    Maya,
    ask,
    ask_embedded,
    dig,
    keys,
    maya,
    ws_query,
    ws_url,
)
from tests.integration.gateway.test_upstream_fields import shopper


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

COMPARES: dict[str, str] = {
    "customer(email)": "Query.customer(email:)",
    "segmentPreview": "SegmentFilter.country",
    "segment members": "SegmentFilter.country",
}
"""What an entry point compares with (``policy.COMPARED``): a role that may not
compare by it gets FORBIDDEN there instead (tests/security/test_comparisons)."""

NOTE_NODE = "query($note: ID!) { node(id: $note) { ... on Note { body author } } }"
TIMELINE = """query($id: ID!) { customer(id: $id) {
  timeline(first: 20, sources: [CRM]) { edges { node {
    __typename summary ... on NoteAdded { body } } } } } }"""
EMBED_TIMELINE = """query($id: ID!) { timeline(customerId: $id, first: 20, sources: [CRM])
  { edges { node { __typename summary ... on NoteAdded { body } } } } }"""


@pytest.mark.parametrize("entry", ENTRY_POINTS)
async def test_each_role_sees_what_the_policy_gives_it_through_every_entry_point(
    client: httpx.AsyncClient,
    keys: dict[Role, dict[str, str]],
    maya: Maya,
    entry: str,
) -> None:
    query, path = ENTRY_POINTS[entry]
    for role in ROLES:
        if entry in COMPARES and not policy.may_compare(role, COMPARES[entry]):
            refused = await client.post(
                "/graphql",
                json={"query": query, "variables": {"id": maya.id}},
                headers=keys[role],
            )
            codes = [e["extensions"]["code"] for e in refused.json()["errors"]]
            assert codes == ["FORBIDDEN"], role
            assert not refused.json().get("data"), role
            continue
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
    response = await ask_embedded(client, maya.id, EMBED_TIMELINE, id=maya.id)
    edges = response.json()["data"]["timeline"]["edges"]
    assert _timeline_view(edges) == _timeline_wanted(Role.EMBED)


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


__all__ = ["keys", "maya", "ws_url"]  # fixtures, used by name


UPSTREAM_VIEW = """query($id: ID!) { customer(id: $id) {
  tickets(first: 5) { edges { node { id subject comments { body } } } }
  activity(first: 5) { edges { node { url properties } } }
  timeline(first: 40, sources: [ZENDESK]) { edges { node { kind summary
    ... on TicketCommented { comment { body } } } } } } }"""


def _as_role(role: Role, full: dict[str, Any]) -> dict[str, Any]:
    """What ``role`` should see of what a role seeing everything saw."""

    def text(value: Any) -> Any:
        return policy.apply(role, PiiKind.TEXT, value)

    tickets = [e["node"] for e in full["tickets"]["edges"]]
    activity = [e["node"] for e in full["activity"]["edges"]]
    timeline = [e["node"] for e in full["timeline"]["edges"]]
    return {
        "tickets": [
            {
                "id": t["id"],
                "subject": text(t["subject"]) or f"Ticket #{t['id']}",
                "comments": [{"body": text(c["body"])} for c in t["comments"]],
            }
            for t in tickets
        ],
        "activity": [
            {
                "url": policy.apply(role, PiiKind.URL, a["url"]),
                "properties": text(a["properties"]),
            }
            for a in activity
        ],
        "timeline": [
            {
                "kind": e["kind"],
                "summary": text(e["summary"])
                or PLAIN_SUMMARIES.get(Kind[e["kind"]], e["summary"]),
                **(
                    {"comment": {"body": text(e["comment"]["body"])}}
                    if "comment" in e
                    else {}
                ),
            }
            for e in timeline
        ],
    }


def _seen(data: dict[str, Any]) -> dict[str, Any]:
    customer = data["customer"]
    return _as_role(Role.ADMIN, customer)  # admin sees all: the shape, unchanged


async def test_upstream_text_is_masked_by_role_in_lists_and_the_timeline(
    gateway: Gateway,
) -> None:
    email = shopper(gateway)
    found = await gateway.gql(
        "query($e: String!) { customer(email: $e) { id } }", {"e": email}
    )
    variables = {"id": found["data"]["customer"]["id"]}
    full = await gateway.gql(UPSTREAM_VIEW, variables)
    assert "errors" not in full, full
    customer = full["data"]["customer"]
    assert customer["tickets"]["edges"], "the shopper has tickets"
    assert customer["activity"]["edges"], "and web activity"
    kinds = {e["node"]["kind"] for e in customer["timeline"]["edges"]}
    assert "TICKET_COMMENTED" in kinds, "and ticket comments"
    for role in ROLES:
        key, _ = await create_key(
            gateway.services.sessions, f"{role}-{time.monotonic_ns()}", role
        )
        response = await gateway.http.post(
            "/graphql",
            json={"query": UPSTREAM_VIEW, "variables": variables},
            headers={"Authorization": f"Bearer {key}"},
        )
        body = response.json()
        assert "errors" not in body, body
        assert _seen(body["data"]) == _as_role(role, customer), role
