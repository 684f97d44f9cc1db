"""Web events (``WebEvent``) as each role sees them, on every surface: the
timeline over HTTP and WebSocket, the embed endpoint and the live subscription.

Maya's events (``surfaces.WEB_EVENTS``) carry her email in a page's title, and
a password, a session id and her email in the URL's user info, ``;params`` and
query. Expectations are the admin's answer run through ``gateway.auth.policy``
(``plain_name`` for a name the role may not see), never copied by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import httpx
import pytest

from gateway.auth import policy
from gateway.auth.policy import PiiKind, Role
from gateway.changes.bus import CustomerChange
from gateway.db import models
from gateway.runtime.services import Services
from gateway.schema.timeline_events import plain_name
from gateway.timeline.items import Kind
from tests.conftest import ADMIN, ANSWER_WAIT, graphql_socket
from tests.integration.gateway.surfaces import (
    ROLES,
    WEB_EVENTS,
    Maya,
    ask,
    ask_embedded,
    keys,
    maya,
    ws_query,
    ws_url,
)

pytestmark = pytest.mark.storage_independent

WEB = "... on WebEvent { kind name url path properties }"
TIMELINE = f"""query($id: ID!) {{ customer(id: $id) {{
  timeline(first: 5, sources: [INGEST]) {{ edges {{ node {{ {WEB} }} }} }} }} }}"""
EMBED_TIMELINE = f"""query($id: ID!) {{ timeline(customerId: $id, first: 5,
  sources: [INGEST]) {{ edges {{ node {{ {WEB} }} }} }} }}"""
SUBSCRIPTION = (
    f"subscription($id: ID!) {{ customerTimeline(customerId: $id) {{ {WEB} }} }}"
)
SECRETS = ("maya@example.com", "pa55", "S3SS10N")
"""What the events carry that a masking role must never get."""


def as_role(role: Role, event: dict[str, Any]) -> dict[str, Any]:
    """What ``role`` must see of an event the admin saw in full."""
    name = policy.apply(role, PiiKind.TEXT, event["name"])
    return {
        "kind": event["kind"],
        "name": name or plain_name(event["name"], Kind[event["kind"]]),
        "url": policy.apply(role, PiiKind.URL, event["url"]),
        "path": policy.apply(role, PiiKind.URL, event["path"]),
        "properties": policy.apply(role, PiiKind.TEXT, event["properties"]),
    }


def nodes(data: dict[str, Any], *prefix: str) -> list[dict[str, Any]]:
    for name in prefix:
        data = data[name]
    return [edge["node"] for edge in data["edges"]]


def assert_as_policy_says(
    role: Role, seen: list[dict[str, Any]], full: list[dict[str, Any]]
) -> None:
    assert seen == [as_role(role, event) for event in full], role
    if policy.treatment(role, PiiKind.URL) is not policy.FULL:
        assert not [s for s in SECRETS if s in json.dumps(seen)], role


@pytest.fixture
async def full(client: httpx.AsyncClient, maya: Maya) -> list[dict[str, Any]]:
    """Maya's web events as the admin sees them (newest first)."""
    events = nodes(
        await ask(client, ADMIN, TIMELINE, id=maya.id), "customer", "timeline"
    )
    assert [e["name"] for e in reversed(events)] == [n for _, n, _ in WEB_EVENTS]
    return events


@pytest.mark.parametrize("role", ROLES)
async def test_web_events_in_the_timeline_show_name_url_and_path_by_role(
    client: httpx.AsyncClient,
    ws_url: str,
    keys: dict[Role, dict[str, str]],
    maya: Maya,
    full: list[dict[str, Any]],
    role: Role,
) -> None:
    http = await ask(client, keys[role], TIMELINE, id=maya.id)
    socket = await ws_query(ws_url, keys[role], TIMELINE, id=maya.id)
    for data in (http, socket):
        assert_as_policy_says(role, nodes(data, "customer", "timeline"), full)


async def test_web_events_on_the_embed_endpoint_show_as_the_embed_role(
    client: httpx.AsyncClient, maya: Maya, full: list[dict[str, Any]]
) -> None:
    response = await ask_embedded(client, maya.id, EMBED_TIMELINE, id=maya.id)
    body = response.json()
    assert "errors" not in body, body
    assert_as_policy_says(Role.EMBED, nodes(body["data"], "timeline"), full)


async def add_event(db: Services, maya: Maya, message_id: str) -> None:
    """Store Maya's first web event again and announce it, as the ingest does."""
    type_, name, properties = WEB_EVENTS[0]
    async with db.sessions() as session, session.begin():
        session.add(
            models.TrackedEvent(
                message_id=message_id,
                customer_id=maya.pk,
                type=type_,
                name=name,
                properties=properties,
                occurred_at=models.utcnow(),
            )
        )
    await db.changes.publish(CustomerChange(maya.pk, "ingest", type_))


@pytest.mark.parametrize("role", ROLES)
async def test_a_web_event_pushed_to_a_subscriber_shows_by_role(
    db: Services,
    ws_url: str,
    keys: dict[Role, dict[str, str]],
    maya: Maya,
    full: list[dict[str, Any]],
    role: Role,
) -> None:
    async with graphql_socket(ws_url) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": keys[role]}))
        assert "connection_ack" in await asyncio.wait_for(ws.recv(), ANSWER_WAIT)
        payload = {"query": SUBSCRIPTION, "variables": {"id": maya.id}}
        await ws.send(json.dumps({"id": "s", "type": "subscribe", "payload": payload}))
        for attempt in range(10):
            # an event stored before the subscription read its head is not
            # new to it: send another until one is pushed
            await add_event(db, maya, f"live-{role}-{attempt}")
            with contextlib.suppress(TimeoutError):
                message = json.loads(await asyncio.wait_for(ws.recv(), 1))
                break
        else:
            pytest.fail("no event was pushed")
    assert message["type"] == "next", message
    pushed = message["payload"]["data"]["customerTimeline"]
    assert_as_policy_says(role, [pushed], [full[-1]])


__all__ = ["keys", "maya", "ws_url"]  # fixtures, used by name
