"""Write races: N clashing requests fired at once through the real app, on
SQLite and PostgreSQL.

Each row of ``RACES`` is one race: what is prepared, the request each of the N
senders makes (a GraphQL mutation, an ingest message, a Shopify delivery, or a
mix of them), how many must be accepted and the code of the others, and
exactly what the database holds afterwards. No answer may be a 500 or an
``INTERNAL_SERVER_ERROR``; nothing depends on timing, only on counts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from connectors.shopify.simulator.webhooks import webhook_headers
from gateway.app import create_app
from gateway.auth.keys import create_key
from gateway.auth.policy import Role
from gateway.crm.customers import MAX_LOYALTY_BALANCE
from gateway.db import models
from gateway.db.auth_models import ApiKey
from gateway.errors import Conflict
from gateway.insights.tables import Segment
from gateway.relay.ids import customer_pk
from gateway.runtime.services import Services
from tests.conftest import ADMIN

N = 12
EMAIL = "race@example.com"
SHOPIFY_SECRET = "shpss_race_secret"
WRITE_KEY = "wk_race_public"
SERVER_WRITE_KEY = "wk_race_server"


@dataclass(frozen=True)
class Answer:
    """One sender's outcome: accepted, or refused with a code."""

    status: int
    code: str | None
    data: Any = None

    @property
    def accepted(self) -> bool:
        return self.status == 200 and self.code is None


@dataclass
class Stage:
    services: Services
    http: httpx.AsyncClient
    ids: dict[str, str] = field(default_factory=dict)
    """What ``prepare`` made (customer and task ids) for the senders."""

    async def gql(self, query: str, **variables: object) -> Answer:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=ADMIN
        )
        body = response.json()
        errors = body.get("errors") or []
        code = errors[0]["extensions"]["code"] if errors else None
        return Answer(response.status_code, code, body.get("data"))

    async def setup(self, query: str, **variables: object) -> Any:
        answer = await self.gql(query, **variables)
        assert answer.accepted, answer
        return answer.data

    async def identify(self, key: str, user_id: str, message_id: str) -> Answer:
        response = await self.http.post(
            "/v1/identify",
            json={
                "userId": user_id,
                "messageId": message_id,
                "traits": {"email": EMAIL},
            },
            auth=(key, ""),
        )
        body = response.json()
        return Answer(response.status_code, body.get("code"), body)

    async def shopify(self, topic: str, payload: dict[str, Any]) -> Answer:
        body = json.dumps(payload).encode()
        headers = webhook_headers(
            body,
            topic,
            secret=SHOPIFY_SECRET,
            shop_domain="race.myshopify.com",
            api_version="2025-07",
        )
        response = await self.http.post(
            "/webhooks/shopify", content=body, headers=headers
        )
        body_json = response.json()
        if response.status_code != 200:
            return Answer(response.status_code, "HTTP", body_json)
        return Answer(200, None, body_json)

    async def count(self, model: Any, *where: Any) -> int:
        async with self.services.sessions() as session:
            found = await session.scalar(
                select(func.count()).select_from(model).where(*where)
            )
        return int(found or 0)

    async def events(self, kind: str) -> int:
        return await self.count(models.CustomerEvent, models.CustomerEvent.kind == kind)

    async def balance(self) -> int:
        async with self.services.sessions() as session:
            found = await session.scalar(
                select(func.coalesce(func.sum(models.LoyaltyEntry.points), 0))
            )
        return int(found or 0)


CREATE = "mutation($e: String!) { createCustomer(input: {email: $e}) { id } }"
UPDATE = "mutation($id: ID!, $e: String!) { updateCustomer(id: $id, input: {email: $e}) { id } }"
LOYALTY = """mutation($id: ID!, $p: Int!) {
  addLoyaltyPoints(customerId: $id, points: $p, reason: "race") { points } }"""
TAG = 'mutation($id: ID!) { tagCustomer(customerId: $id, tags: ["vip"]) { id } }'
UNTAG = 'mutation($id: ID!) { untagCustomer(customerId: $id, tags: ["vip"]) { id } }'
CONSENT = "mutation($id: ID!, $s: ConsentState!) { setConsent(customerId: $id, channel: EMAIL, state: $s) { state } }"
TASK = 'mutation($id: ID!) { createTask(customerId: $id, title: "Call") { id } }'
COMPLETE = "mutation($id: ID!) { completeTask(id: $id) { status } }"
SEGMENT = 'mutation { createSegment(name: "race", filter: {country: "DE"}) { name } }'


async def a_customer(stage: Stage) -> None:
    data = await stage.setup(CREATE, e="owner@example.com")
    stage.ids["customer"] = data["createCustomer"]["id"]


async def with_points(stage: Stage, points: int) -> None:
    await a_customer(stage)
    async with stage.services.sessions() as session, session.begin():
        session.add(
            models.LoyaltyEntry(
                customer_id=customer_pk(stage.ids["customer"]),
                points=points,
                reason="start",
            )
        )


async def many_customers(stage: Stage) -> None:
    for i in range(N):
        data = await stage.setup(CREATE, e=f"c{i}@example.com")
        stage.ids[f"c{i}"] = data["createCustomer"]["id"]


async def tagged(stage: Stage) -> None:
    await a_customer(stage)
    await stage.setup(TAG, id=stage.ids["customer"])


async def a_task(stage: Stage) -> None:
    await a_customer(stage)
    data = await stage.setup(TASK, id=stage.ids["customer"])
    stage.ids["task"] = data["createTask"]["id"]


async def nothing(stage: Stage) -> None:
    return None


def shopper(number: int) -> dict[str, Any]:
    return {
        "id": number,
        "admin_graphql_api_id": f"gid://shopify/Customer/{number}",
        "email": EMAIL,
        "first_name": "Nova",
    }


async def mixed_creation(stage: Stage, i: int) -> Answer:
    """The same new email through every surface that creates customers."""
    if i % 3 == 0:
        return await stage.gql(CREATE, e=EMAIL)
    if i % 3 == 1:
        return await stage.identify(SERVER_WRITE_KEY, f"user-{i}", f"m-{i}")
    return await stage.shopify("customers/create", shopper(99000 + i))


async def one_customer(stage: Stage) -> int:
    return await stage.count(models.Customer, models.Customer.email == EMAIL)


@dataclass(frozen=True)
class Race:
    name: str
    prepare: Callable[[Stage], Awaitable[None]]
    send: Callable[[Stage, int], Awaitable[Answer]]
    accepted: int | None
    """How many of the N are accepted; ``None``: not counted (a mix of surfaces
    whose answers differ), the stored state still is."""
    refused: str | None
    """The code of every other answer."""
    stored: Callable[[Stage], Awaitable[dict[str, int]]]
    expected: dict[str, int]


RACES = [
    Race(
        "redeem-past-zero",
        lambda s: with_points(s, 5_000),
        lambda s, i: s.gql(LOYALTY, id=s.ids["customer"], p=-1_000),
        accepted=5,
        refused="BAD_USER_INPUT",
        stored=lambda s: _dict(
            balance=s.balance(), entries=s.count(models.LoyaltyEntry)
        ),
        expected={"balance": 0, "entries": 6},
    ),
    Race(
        "credit-past-the-bound",
        lambda s: with_points(s, MAX_LOYALTY_BALANCE - 3_000),
        lambda s, i: s.gql(LOYALTY, id=s.ids["customer"], p=1_000),
        accepted=3,
        refused="BAD_USER_INPUT",
        stored=lambda s: _dict(
            balance=s.balance(), entries=s.count(models.LoyaltyEntry)
        ),
        expected={"balance": MAX_LOYALTY_BALANCE, "entries": 4},
    ),
    Race(
        "create-same-email",
        nothing,
        lambda s, i: s.gql(CREATE, e=EMAIL),
        accepted=1,
        refused="CONFLICT",
        stored=lambda s: _dict(customers=s.count(models.Customer)),
        expected={"customers": 1},
    ),
    Race(
        "update-to-same-email",
        many_customers,
        lambda s, i: s.gql(UPDATE, id=s.ids[f"c{i}"], e=EMAIL),
        accepted=1,
        refused="CONFLICT",
        stored=lambda s: _dict(
            with_email=one_customer(s), customers=s.count(models.Customer)
        ),
        expected={"with_email": 1, "customers": N},
    ),
    Race(
        "create-and-update-to-same-email",
        many_customers,
        lambda s, i: (
            s.gql(CREATE, e=EMAIL)
            if i % 2
            else s.gql(UPDATE, id=s.ids[f"c{i}"], e=EMAIL)
        ),
        accepted=1,
        refused="CONFLICT",
        stored=lambda s: _dict(with_email=one_customer(s)),
        expected={"with_email": 1},
    ),
    Race(
        "tag-same-tag",
        a_customer,
        lambda s, i: s.gql(TAG, id=s.ids["customer"]),
        accepted=N,
        refused=None,
        stored=lambda s: _dict(tags=s.count(models.Tag), added=s.events("tag_added")),
        expected={"tags": 1, "added": 1},
    ),
    Race(
        "untag-same-tag",
        tagged,
        lambda s, i: s.gql(UNTAG, id=s.ids["customer"]),
        accepted=N,
        refused=None,
        stored=lambda s: _dict(
            tags=s.count(models.Tag), removed=s.events("tag_removed")
        ),
        expected={"tags": 0, "removed": 1},
    ),
    Race(
        "first-consent",
        a_customer,
        lambda s, i: s.gql(
            CONSENT, id=s.ids["customer"], s="GRANTED" if i % 2 else "DENIED"
        ),
        accepted=N,
        refused=None,
        stored=lambda s: _dict(
            consents=s.count(models.Consent), changes=s.events("consent_changed")
        ),
        expected={"consents": 1, "changes": N},
    ),
    Race(
        "complete-same-task",
        a_task,
        lambda s, i: s.gql(COMPLETE, id=s.ids["task"]),
        accepted=1,
        refused="CONFLICT",
        stored=lambda s: _dict(
            done=s.count(models.Task, models.Task.status == "done"),
            completed=s.events("task_completed"),
        ),
        expected={"done": 1, "completed": 1},
    ),
    Race(
        "segment-same-name",
        nothing,
        lambda s, i: s.gql(SEGMENT),
        accepted=1,
        refused="CONFLICT",
        stored=lambda s: _dict(segments=s.count(Segment)),
        expected={"segments": 1},
    ),
    Race(
        "identify-same-user-trusted",
        nothing,
        lambda s, i: s.identify(SERVER_WRITE_KEY, "user-1", f"m-{i}"),
        accepted=N,
        refused=None,
        stored=lambda s: _dict(
            customers=s.count(models.Customer),
            links=s.count(models.Identity),
            events=s.count(models.TrackedEvent),
        ),
        expected={"customers": 1, "links": 1, "events": N},
    ),
    Race(
        "identify-same-email-public",
        nothing,
        lambda s, i: s.identify(WRITE_KEY, f"user-{i}", f"m-{i}"),
        accepted=N,
        refused=None,
        stored=lambda s: _dict(
            customers=s.count(models.Customer),
            links=s.count(models.Identity),
            events=s.count(models.TrackedEvent),
            attached=s.count(
                models.TrackedEvent, models.TrackedEvent.customer_id.is_not(None)
            ),
        ),
        expected={"customers": 1, "links": 1, "events": N, "attached": 1},
    ),
    Race(
        "shopify-new-shopper-twice",
        nothing,
        lambda s, i: s.shopify(
            "customers/create" if i % 2 else "customers/update", shopper(99001)
        ),
        accepted=N,
        refused=None,
        stored=lambda s: _dict(
            customers=s.count(models.Customer),
            links=s.count(models.Identity),
            deliveries=s.count(models.WebhookDelivery),
        ),
        expected={"customers": 1, "links": 1, "deliveries": 2 * N},
    ),
    Race(
        "one-email-every-surface",
        nothing,
        mixed_creation,
        accepted=None,
        refused="CONFLICT",
        stored=lambda s: _dict(customers=s.count(models.Customer)),
        expected={"customers": 1},
    ),
]


async def _dict(**counts: Awaitable[int]) -> dict[str, int]:
    return {name: await value for name, value in counts.items()}


@pytest.fixture
async def stage(db: Services) -> AsyncIterator[Stage]:
    settings = db.settings.model_copy(
        update={
            "ingest_write_key": SecretStr(WRITE_KEY),
            "ingest_server_write_key": SecretStr(SERVER_WRITE_KEY),
            "shopify_api_secret": SecretStr(SHOPIFY_SECRET),
        }
    )
    services = dataclasses.replace(db, settings=settings)
    transport = httpx.ASGITransport(app=create_app(services=services))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        yield Stage(services, http)


@pytest.mark.parametrize("race", RACES, ids=[r.name for r in RACES])
async def test_concurrent_writes_never_fail_and_store_exactly_once(
    stage: Stage, race: Race
) -> None:
    await race.prepare(stage)
    answers = await asyncio.gather(*(race.send(stage, i) for i in range(N)))
    assert all(a.status < 500 for a in answers), answers
    assert not any(a.code == "INTERNAL_SERVER_ERROR" for a in answers), answers
    accepted = [a for a in answers if a.accepted]
    if race.accepted is not None:
        assert len(accepted) == race.accepted, answers
    assert {a.code for a in answers if not a.accepted} <= {race.refused}, answers
    assert await race.stored(stage) == race.expected


async def test_concurrent_keys_of_one_name_store_one_and_refuse_the_rest(
    db: Services,
) -> None:
    made = await asyncio.gather(
        *(create_key(db.sessions, "ci", Role.ANALYST) for _ in range(N)),
        return_exceptions=True,
    )
    assert len([m for m in made if isinstance(m, tuple)]) == 1
    assert all(isinstance(m, Conflict) for m in made if not isinstance(m, tuple))
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ApiKey)) == 1


class Duplicate(Exception):
    sqlstate = "23505"


async def keeps_clashing(*args: object, **kwargs: object) -> None:
    raise IntegrityError("INSERT …", {}, Duplicate())


async def test_a_write_that_keeps_clashing_is_retryable_and_stores_nothing(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gateway.ingest.store._store", keeps_clashing)
    monkeypatch.setattr("gateway.webhooks.shopify._customer", keeps_clashing)
    ingest = await stage.identify(SERVER_WRITE_KEY, "user-1", "m-1")
    delivery = await stage.shopify("customers/create", shopper(99001))
    assert (ingest.status, ingest.code) == (503, "conflict")
    assert delivery.status == 409
    assert delivery.data == {
        "error": "Concurrent deliveries changed the same records; retry.",
        "code": "CONFLICT",
    }
    for model in (models.Customer, models.TrackedEvent, models.WebhookDelivery):
        assert await stage.count(model) == 0
