"""The consent tables' people and the ways to read their contact data.

One customer per consent state (``STATES``), made through the API on the
security stage, tagged and gathered in one segment for the exports; and one
reader per surface, each answering ``{"email", "phone"}`` as the surface showed
them (``None`` for a customer the surface did not list).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import itertools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gateway.auth.policy import Role
from gateway.relay.ids import customer_pk
from tests.conftest import graphql_socket
from tests.security.conftest import Stage
from tests.security.surfaces import WS_TIMEOUT, Surface, send

STATES: dict[str, dict[str, str]] = {
    "granted": {"EMAIL": "GRANTED", "SMS": "GRANTED"},
    "withdrawn": {"EMAIL": "DENIED", "SMS": "DENIED"},
    "pending": {"EMAIL": "PENDING", "SMS": "PENDING"},
    "absent": {},
    "email only": {"EMAIL": "GRANTED", "SMS": "DENIED"},
}
"""Consent state → what each channel ends at. ``withdrawn`` is granted first,
then withdrawn by marketing itself (the one change marketing may make)."""

TAG = "consent-suite"
SEGMENT = "consent-suite"
CUSTOMER = "query($id: ID!) { customer(id: $id) { email phone } }"
ENTITIES = (
    "query($r: [_Any!]!) { _entities(representations: $r)"
    " { ... on Customer { email phone } } }"
)
SET_CONSENT = """mutation($id: ID!, $c: ConsentChannel!, $s: ConsentState!) {
  setConsent(customerId: $id, channel: $c, state: $s) { state } }"""
_numbers = itertools.count(10)


@dataclass(frozen=True)
class Person:
    gid: str
    pk: int
    email: str
    phone: str
    granted: frozenset[str]
    """Consent channels (``email``, ``sms``) granted."""


async def gql(stage: Stage, role: Role, document: str, **variables: object) -> Any:
    answer = await send(
        stage, Surface.HTTP_POST, stage.keys[role], document, dict(variables)
    )
    assert not answer.errors, answer.text[:1000]
    return answer.data


async def set_consent(
    stage: Stage, role: Role, person_gid: str, channel: str, state: str
) -> None:
    await gql(stage, role, SET_CONSENT, id=person_gid, c=channel, s=state)


async def make_person(stage: Stage, state: str) -> Person:
    """A new customer in ``state``, tagged into ``SEGMENT``."""
    n = next(_numbers)
    slug = state.replace(" ", "-")
    email = f"consent-{slug}-{n}-{time.monotonic_ns()}@example.com"
    phone = f"+4420799{n:05d}"
    made = await gql(
        stage,
        Role.ADMIN,
        "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }",
        i={"email": email, "phone": phone, "firstName": "Consent"},
    )
    gid = made["createCustomer"]["id"]
    await gql(
        stage,
        Role.ADMIN,
        "mutation($id: ID!, $t: String!) { tagCustomer(customerId: $id, tags: [$t]) { id } }",
        id=gid,
        t=TAG,
    )
    ends = STATES[state]
    if state == "withdrawn":
        for channel in ends:
            await set_consent(stage, Role.ADMIN, gid, channel, "GRANTED")
    for channel, end in ends.items():
        who = Role.MARKETING if end == "DENIED" else Role.ADMIN
        await set_consent(stage, who, gid, channel, end)
    granted = frozenset(c.lower() for c, end in ends.items() if end == "GRANTED")
    return Person(gid, customer_pk(gid), email, phone, granted)


Reader = Callable[[Stage, str, Person], Awaitable[dict[str, Any] | None]]


async def _graphql(
    stage: Stage, surface: Surface, credential: str, person: Person
) -> dict[str, Any] | None:
    answer = await send(stage, surface, credential, CUSTOMER, {"id": person.gid})
    assert not answer.errors, answer.text[:1000]
    customer: dict[str, Any] | None = answer.data["customer"]
    return customer


async def _federation(
    stage: Stage, credential: str, person: Person
) -> dict[str, Any] | None:
    representation = {"__typename": "Customer", "id": person.gid}
    answer = await send(
        stage, Surface.HTTP_POST, credential, ENTITIES, {"r": [representation]}
    )
    assert not answer.errors, answer.text[:1000]
    [entity] = answer.data["_entities"]
    return dict(entity) if entity is not None else None


async def export_rows(
    stage: Stage, credential: str, format: str, channel: str
) -> dict[int, dict[str, Any]]:
    """The consent segment's export, by customer id."""
    response = await stage.http.get(
        f"/segments/{SEGMENT}/export",
        params={"format": format, "channel": channel},
        headers={"Authorization": credential},
    )
    assert response.status_code == 200, response.text[:500]
    if format == "jsonl":
        rows = [json.loads(line) for line in response.text.splitlines() if line]
    else:
        rows = [
            {k: (v if v != "" else None) for k, v in row.items()}
            for row in csv.DictReader(io.StringIO(response.text))
        ]
    return {int(row["customer_id"]): row for row in rows}


def _export(format: str, channel: str) -> Reader:
    async def read(
        stage: Stage, credential: str, person: Person
    ) -> dict[str, Any] | None:
        row = (await export_rows(stage, credential, format, channel)).get(person.pk)
        return None if row is None else {"email": row["email"], "phone": row["phone"]}

    return read


READERS: dict[str, Reader] = {
    "http_post": lambda stage, c, p: _graphql(stage, Surface.HTTP_POST, c, p),
    "http_get": lambda stage, c, p: _graphql(stage, Surface.HTTP_GET, c, p),
    "ws": lambda stage, c, p: _graphql(stage, Surface.WS, c, p),
    "federation": _federation,
    "export_csv_email": _export("csv", "email"),
    "export_csv_sms": _export("csv", "sms"),
    "export_jsonl_email": _export("jsonl", "email"),
    "export_jsonl_sms": _export("jsonl", "sms"),
}
"""Surface → how it reads one person's contact fields."""


def export_channel(surface: str) -> str | None:
    """The consent channel an export surface filters by (``None``: not one)."""
    return surface.rsplit("_", 1)[1] if surface.startswith("export_") else None


class Socket:
    """One graphql-transport-ws connection running several operations in turn
    (its loaders live as long as it does)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    async def query(self, document: str, variables: dict[str, Any]) -> Any:
        operation = str(next(self.ids))
        await self.ws.send(
            json.dumps(
                {
                    "id": operation,
                    "type": "subscribe",
                    "payload": {"query": document, "variables": variables},
                }
            )
        )
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), WS_TIMEOUT))
            if message.get("id") == operation and message["type"] == "next":
                assert not message["payload"].get("errors"), message
                return message["payload"]["data"]
            assert message["type"] in ("complete", "ping", "pong"), message


@contextlib.asynccontextmanager
async def open_socket(stage: Stage, credential: str) -> AsyncIterator[Socket]:
    url = stage.base_url.replace("http", "ws", 1) + "/graphql"
    async with graphql_socket(url) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": credential}}
        await ws.send(json.dumps(init))
        ack = json.loads(await asyncio.wait_for(ws.recv(), WS_TIMEOUT))
        assert ack["type"] == "connection_ack", ack
        yield Socket(ws)
