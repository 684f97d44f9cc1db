"""Authentication, roles and personal-data masking, the audit log, rate limits."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from gateway.app import create_app
from gateway.auth.admission import REJECTED, UNAUTHENTICATED
from gateway.auth.audit import entries_for
from gateway.auth.keys import create_key, revoke_key
from gateway.auth.policy import Role
from gateway.cli.main import app as cli
from gateway.relay.ids import customer_pk
from gateway.runtime.services import Services, open_services
from tests.conftest import ADMIN, ANSWER_WAIT, graphql_socket

pytestmark = pytest.mark.storage_independent

CUSTOMER = """
query($id: ID!) { customer(id: $id) {
  id email phone birthDate birthMonth firstName
  addresses { country city line1 postcode }
  notes(first: 5) { edges { node { body } } }
} }
"""


@pytest.fixture
async def maya(client: httpx.AsyncClient) -> str:
    created = await client.post(
        "/graphql",
        json={
            "query": 'mutation { createCustomer(input: {email: "maya@example.com", '
            'phone: "+14155550123", firstName: "Maya", birthDate: "1990-04-12", '
            'addresses: [{kind: SHIPPING, country: "US", city: "Oakland", '
            'line1: "1 Main St", postcode: "94601"}]}) { id } }'
        },
    )
    cid = str(created.json()["data"]["createCustomer"]["id"])
    await client.post(
        "/graphql",
        json={
            "query": 'mutation($c: ID!) { addNote(customerId: $c, body: "VIP") { id } }',
            "variables": {"c": cid},
        },
    )
    return cid


async def key_for(db: Services, role: Role, **kw: Any) -> dict[str, str]:
    key, _ = await create_key(db.sessions, f"{role}-{time.monotonic_ns()}", role, **kw)
    return {"Authorization": f"Bearer {key}"}


async def ask(
    client: httpx.AsyncClient, query: str, headers: dict[str, str], **variables: Any
) -> httpx.Response:
    return await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )


async def test_no_credentials_is_401_with_a_code(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "{ customers { totalCount } }"},
        headers={"Authorization": ""},
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["message"] == UNAUTHENTICATED  # what to send


@pytest.mark.parametrize(
    ("authorization", "challenge", "message"),
    [
        # a token not accepted: told so, not what was wrong with it
        ("Bearer cg_not_a_real_key", 'Bearer error="invalid_token"', REJECTED),
        ("Bearer eyJhbGciOi.x.y", 'Bearer error="invalid_token"', REJECTED),
        # another scheme: told what to send, with no error code
        ("Basic dXNlcjpwYXNz", "Bearer", UNAUTHENTICATED),
        # the scheme alone: a malformed request
        ("Bearer", 'Bearer error="invalid_request"', UNAUTHENTICATED),
        ("Bearer   ", 'Bearer error="invalid_request"', UNAUTHENTICATED),
    ],
)
async def test_invalid_credentials_are_401(
    client: httpx.AsyncClient, authorization: str, challenge: str, message: str
) -> None:
    """RFC 6750 § 3.1's answers."""
    response = await ask(client, "{ __typename }", {"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["message"] == message


async def test_revoked_and_expired_keys_stop_working(
    db: Services, client: httpx.AsyncClient
) -> None:
    key, info = await create_key(db.sessions, "temp", Role.SUPPORT)
    headers = {"Authorization": f"Bearer {key}"}
    assert (await ask(client, "{ __typename }", headers)).status_code == 200
    await revoke_key(db.sessions, "temp")
    db.auth._keys.clear()  # what a replica forgets within KEY_MEMORY_SECONDS
    assert (await ask(client, "{ __typename }", headers)).status_code == 401
    expired = await key_for(db, Role.SUPPORT, expires_in=timedelta(seconds=-1))
    assert (await ask(client, "{ __typename }", expired)).status_code == 401


async def test_personal_data_is_shown_masked_or_hidden_by_role(
    db: Services, client: httpx.AsyncClient, maya: str
) -> None:
    seen = {}
    for role in (Role.SUPPORT, Role.MARKETING, Role.ANALYST):
        response = await ask(client, CUSTOMER, await key_for(db, role), id=maya)
        body = response.json()
        assert "errors" not in body, body
        seen[role] = body["data"]["customer"]
    support, marketing, analyst = (
        seen[Role.SUPPORT],
        seen[Role.MARKETING],
        seen[Role.ANALYST],
    )
    assert support["email"] == "maya@example.com"
    assert support["phone"] == "+14155550123"
    assert support["birthDate"] == "1990-04-12"
    assert support["addresses"][0]["line1"] == "1 Main St"
    assert support["notes"]["edges"][0]["node"]["body"] == "VIP"
    # no consent recorded: null, not a mask (test_consent's tables: the rest)
    assert marketing["email"] is None
    assert marketing["phone"] is None
    assert marketing["birthDate"] is None
    assert marketing["birthMonth"] == 4
    assert marketing["addresses"] == [
        {"country": "US", "city": "Oakland", "line1": None, "postcode": None}
    ]
    assert marketing["notes"] is None
    assert marketing["firstName"] == "Maya"
    for field in ("email", "phone", "birthDate", "birthMonth", "addresses", "notes"):
        assert analyst[field] is None, field


@pytest.mark.parametrize("role", [Role.MARKETING, Role.ANALYST])
async def test_looking_up_by_email_is_forbidden_to_roles_that_do_not_see_emails(
    db: Services, client: httpx.AsyncClient, maya: str, role: Role
) -> None:
    """A lookup that answers is a yes/no oracle for an email the role may not
    see (issue 13); the id is how such roles reach a customer."""
    response = await ask(
        client,
        "query($e: String!) { customer(email: $e) { id } }",
        await key_for(db, role),
        e="maya@example.com",
    )
    assert response.status_code == 403
    [error] = response.json()["errors"]
    assert error["extensions"] == {
        "code": "FORBIDDEN",
        "argument": "Query.customer(email:)",
    }
    assert "data" not in response.json()


WRITE_FORMS = {
    "top level": 'mutation($c: ID!) { addNote(customerId: $c, body: "x") { id } }',
    "inline fragment": 'mutation($c: ID!) { ... on Mutation { addNote(customerId: $c, body: "x") { id } } }',
    "bare inline fragment": 'mutation($c: ID!) { ... { addNote(customerId: $c, body: "x") { id } } }',
    "fragment spread": 'mutation($c: ID!) { ...W } fragment W on Mutation { addNote(customerId: $c, body: "x") { id } }',
}


@pytest.mark.parametrize("form", list(WRITE_FORMS))
@pytest.mark.parametrize("role", [Role.MARKETING, Role.ANALYST])
async def test_roles_that_may_not_write_get_403(
    db: Services, client: httpx.AsyncClient, maya: str, role: Role, form: str
) -> None:
    """However the mutation is wrapped: a fragment once hid it from the check."""
    response = await ask(client, WRITE_FORMS[form], await key_for(db, role), c=maya)
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_reads_and_writes_are_audited(
    db: Services, client: httpx.AsyncClient, maya: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    support = await key_for(db, Role.SUPPORT)
    await ask(client, CUSTOMER, support, id=maya)
    await ask(
        client,
        'mutation($c: ID!) { tagCustomer(customerId: $c, tags: ["vip"]) { id } }',
        support,
        c=maya,
    )
    await db.audit.flush()
    entries = await entries_for(db.sessions, customer_pk(maya))
    reads = [
        e for e in entries if e.action == "read" and e.subject.startswith("key:support")
    ]
    writes = [
        e for e in entries if e.action == "write" and e.operation == "tagCustomer"
    ]
    assert reads
    assert {"email", "phone", "birthDate", "addresses", "notes"} <= set(reads[0].fields)
    assert writes
    assert writes[0].subject.startswith("key:support")
    monkeypatch.setenv("CG_DATABASE_URL", db.settings.database_url)
    # by email, by number and by GraphQL id, as the README names a customer
    for customer in ("maya@example.com", str(customer_pk(maya)), maya):
        result = await asyncio.to_thread(
            CliRunner().invoke, cli, ["audit", "--customer", customer]
        )
        assert result.exit_code == 0, result.output
        assert "tagCustomer" in result.output
    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["audit", "--customer", "Tm90ZTox"],  # Note:1
    )
    assert result.exit_code == 2  # as for an unknown email: one line, no trace
    assert result.output.strip().splitlines() == ["`customer` is not a Customer ID."]


@pytest.fixture
async def jwt_client(db: Services) -> AsyncIterator[httpx.AsyncClient]:
    settings = db.settings.model_copy(
        update={
            "jwt_secret": SecretStr("s3cret-for-hs256-tests-0123456789"),
            "jwt_audience": "customer-graph",
            "jwt_issuer": "https://id.example",
        }
    )
    async with open_services(settings) as services:
        transport = httpx.ASGITransport(app=create_app(services=services))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            yield http


def token(**claims: Any) -> dict[str, str]:
    payload = {
        "sub": "u-1",
        "aud": "customer-graph",
        "iss": "https://id.example",
        "exp": int(time.time()) + 60,
        "roles": ["sales"],
        **claims,
    }
    payload = {k: v for k, v in payload.items() if v is not None}
    encoded = jwt.encode(
        payload, "s3cret-for-hs256-tests-0123456789", algorithm="HS256"
    )
    return {"Authorization": f"Bearer {encoded}"}


async def test_a_valid_jwt_authenticates_with_its_role(
    jwt_client: httpx.AsyncClient,
) -> None:
    response = await ask(jwt_client, "{ customers { totalCount } }", token())
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": None},
        {"exp": 1},
        {"aud": "someone-else"},
        {"iss": "https://evil.example"},
        {"roles": ["superuser"]},
    ],
)
async def test_unacceptable_jwts_are_401(
    jwt_client: httpx.AsyncClient, claims: dict[str, Any]
) -> None:
    response = await ask(jwt_client, "{ __typename }", token(**claims))
    assert response.status_code == 401


async def test_the_rate_limit_answers_429_with_retry_after(db: Services) -> None:
    settings = db.settings.model_copy(
        update={"rate_limit_per_minute": 1, "rate_limit_burst": 3}
    )
    async with open_services(settings) as services:
        transport = httpx.ASGITransport(app=create_app(services=services))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gw", headers=ADMIN
        ) as http:
            statuses = [
                (
                    await http.post("/graphql", json={"query": "{ __typename }"})
                ).status_code
                for _ in range(4)
            ]
            refused = await http.post("/graphql", json={"query": "{ __typename }"})
    assert statuses[:3] == [200, 200, 200]
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


@pytest.mark.parametrize(
    "query",
    [
        "{ __typename }",
        # a customer's answer, read with the token once the request is known
        '{ customer(id: "Q3VzdG9tZXI6MQ==") { id } }',
    ],
)
async def test_the_rate_limit_is_shared_through_redis(
    db: Services, redis_url: str, cache_prefix: str, query: str
) -> None:
    settings = db.settings.model_copy(
        update={
            "rate_limit_per_minute": 1,  # no token back within the test
            "rate_limit_burst": 3,
            "redis_url": redis_url,
            "cache_prefix": cache_prefix,
            # A Redis call past the timeout opens the breaker, and the limit
            # is then each process's own: on a loaded CI box the cluster's
            # subscribe (its slot map read first) once took longer than 1 s.
            "redis_timeout": 10.0,
        }
    )
    async with open_services(settings) as first, open_services(settings) as second:
        apps = [create_app(services=first), create_app(services=second)]
        answers = []
        for index in (0, 0, 1, 0):
            transport = httpx.ASGITransport(app=apps[index])
            async with httpx.AsyncClient(
                transport=transport, base_url="http://gw", headers=ADMIN
            ) as http:
                answers.append(await http.post("/graphql", json={"query": query}))
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert answers[-1].json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


def test_keys_are_created_listed_and_revoked_from_the_command_line(
    db: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CG_DATABASE_URL", db.settings.database_url)
    runner = CliRunner()
    created = runner.invoke(
        cli, ["keys", "create", "--name", "helpdesk", "--role", "support"]
    )
    assert created.exit_code == 0, created.output
    key = next(line for line in created.output.splitlines() if line.startswith("cg_"))
    listed = runner.invoke(cli, ["keys", "list"])
    assert "helpdesk" in listed.output
    assert key not in listed.output
    assert runner.invoke(cli, ["keys", "revoke", "helpdesk"]).exit_code == 0
    assert runner.invoke(cli, ["keys", "revoke", "nobody"]).exit_code == 2
    bad = runner.invoke(cli, ["keys", "create", "--name", "x", "--role", "root"])
    assert bad.exit_code == 2


async def test_a_websocket_without_credentials_is_closed(db: Services) -> None:
    import websockets

    from connectors.simulator_server import serve_app

    async with serve_app(create_app(services=db)) as base_url:
        url = base_url.replace("http", "ws") + "/graphql"
        async with graphql_socket(url) as ws:
            await ws.send('{"type": "connection_init", "payload": {}}')
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), ANSWER_WAIT)
        assert closed.value.rcvd.code == 4403
        async with graphql_socket(url) as ws:
            init = {"type": "connection_init", "payload": ADMIN}
            await ws.send(json.dumps(init))
            assert "connection_ack" in await asyncio.wait_for(ws.recv(), ANSWER_WAIT)


NOTE_TIMELINE = """
query($id: ID!) { customer(id: $id) { timeline(first: 5, sources: [CRM]) { edges { node {
  __typename summary ... on NoteAdded { body } } } } } }
"""


async def test_the_timeline_masks_notes_as_the_customer_fields_do(
    db: Services, client: httpx.AsyncClient, maya: str
) -> None:
    seen = {}
    for role in (Role.SUPPORT, Role.MARKETING, Role.ANALYST):
        response = await ask(client, NOTE_TIMELINE, await key_for(db, role), id=maya)
        edges = response.json()["data"]["customer"]["timeline"]["edges"]
        notes = [e["node"] for e in edges if e["node"]["__typename"] == "NoteAdded"]
        seen[role] = notes[0]
    assert seen[Role.SUPPORT] == {
        "__typename": "NoteAdded",
        "summary": "Note added",
        "body": "VIP",
    }
    assert seen[Role.MARKETING]["body"] is None
    assert seen[Role.ANALYST]["body"] is None
    assert "VIP" not in str(seen[Role.MARKETING]) + str(seen[Role.ANALYST])


async def test_the_subscription_masks_by_the_subscribers_role(
    db: Services, client: httpx.AsyncClient, maya: str
) -> None:

    from connectors.simulator_server import serve_app

    marketing = await key_for(db, Role.MARKETING)
    async with serve_app(create_app(services=db)) as base_url:
        url = base_url.replace("http", "ws") + "/graphql"
        async with graphql_socket(url) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": marketing}))
            assert "connection_ack" in await asyncio.wait_for(ws.recv(), ANSWER_WAIT)
            document = (
                "subscription($id: ID!) { customerTimeline(customerId: $id) "
                "{ __typename summary ... on NoteAdded { body } } }"
            )
            await ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": document, "variables": {"id": maya}},
                    }
                )
            )
            # A note until the subscription, live once it listens, shows one
            # (no sleep guessing when that is).
            for _ in range(20):
                await ask(
                    client,
                    'mutation($c: ID!) { addNote(customerId: $c, body: "secret")'
                    " { id } }",
                    ADMIN,
                    c=maya,
                )
                with contextlib.suppress(TimeoutError):
                    message = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                    break
            else:
                raise AssertionError("the subscription never showed a note")
    assert message["type"] == "next", message
    event = message["payload"]["data"]["customerTimeline"]
    assert event == {"__typename": "NoteAdded", "summary": "Note added", "body": None}


async def socket_answer(db: Services, headers: dict[str, str], document: str) -> dict:

    from connectors.simulator_server import serve_app

    async with serve_app(create_app(services=db)) as base_url:
        url = base_url.replace("http", "ws") + "/graphql"
        async with graphql_socket(url) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": headers}))
            assert "connection_ack" in await asyncio.wait_for(ws.recv(), ANSWER_WAIT)
            subscribe = {"id": "1", "type": "subscribe", "payload": {"query": document}}
            await ws.send(json.dumps(subscribe))
            answer: dict = json.loads(await asyncio.wait_for(ws.recv(), ANSWER_WAIT))
            return answer


async def test_the_websocket_applies_mutation_permissions(
    db: Services, maya: str
) -> None:
    analyst = await key_for(db, Role.ANALYST)
    document = f'mutation {{ tagCustomer(customerId: "{maya}", tags: ["x"]) {{ id }} }}'
    answer = await socket_answer(db, analyst, document)
    errors = (
        answer["payload"] if answer["type"] == "error" else answer["payload"]["errors"]
    )
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_the_websocket_applies_the_query_limits(db: Services) -> None:
    deep = "{ " + "a { " * 40 + "b" + " }" * 40 + " }"
    answer = await socket_answer(db, ADMIN, deep)
    errors = (
        answer["payload"] if answer["type"] == "error" else answer["payload"]["errors"]
    )
    assert "QUERY_TOO_DEEP" in {e["extensions"]["code"] for e in errors}


async def test_the_websocket_applies_the_rate_limit(db: Services) -> None:

    from connectors.simulator_server import serve_app

    settings = db.settings.model_copy(
        update={"rate_limit_per_minute": 1, "rate_limit_burst": 2}
    )
    async with (
        open_services(settings) as services,
        serve_app(create_app(services=services)) as base_url,
    ):
        url = base_url.replace("http", "ws") + "/graphql"
        async with graphql_socket(url) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": ADMIN}))
            assert "connection_ack" in await asyncio.wait_for(ws.recv(), ANSWER_WAIT)
            answers = []
            for n in range(3):
                await ws.send(
                    json.dumps(
                        {
                            "id": str(n),
                            "type": "subscribe",
                            "payload": {"query": "{ __typename }"},
                        }
                    )
                )
                answers.append(
                    json.loads(await asyncio.wait_for(ws.recv(), ANSWER_WAIT))
                )
                if answers[-1]["type"] == "next":
                    await asyncio.wait_for(ws.recv(), ANSWER_WAIT)  # its "complete"
    assert [a["type"] for a in answers] == ["next", "next", "error"]
    refusal = answers[2]["payload"][0]["extensions"]
    assert refusal["code"] == "RATE_LIMITED"
    assert refusal["retryAfter"] >= 1
