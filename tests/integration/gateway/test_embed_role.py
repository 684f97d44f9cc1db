"""The ``embed`` role exists only inside an embed token: no API key (new or
from before) and no JWT can hold it, on the command line, HTTP or WebSocket."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
import websockets
from pydantic import SecretStr
from typer.testing import CliRunner

from connectors.simulator_server import serve_app
from gateway.app import create_app
from gateway.auth.keys import create_key, digest, list_keys
from gateway.auth.policy import Role
from gateway.cli.main import app as cli
from gateway.db.auth_models import ApiKey
from gateway.errors import BadUserInput
from gateway.runtime.services import Services, open_services
from tests.conftest import ANSWER_WAIT, graphql_socket

SECRET = "s3cret-for-hs256-tests-0123456789"
READ = {"query": '{ customer(email: "maya@example.com") { email } }'}


def test_the_command_line_refuses_to_create_an_embed_key(
    db: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CG_DATABASE_URL", db.settings.database_url)
    result = CliRunner().invoke(
        cli, ["keys", "create", "--name", "widget", "--role", "embed"]
    )
    assert result.exit_code == 2
    assert "embed token" in result.output
    assert "cg_" not in result.output
    assert "widget" not in CliRunner().invoke(cli, ["keys", "list"]).output


async def test_no_key_can_be_created_with_the_embed_role(db: Services) -> None:
    with pytest.raises(BadUserInput, match="embed token"):
        await create_key(db.sessions, "widget", Role.EMBED)
    assert await list_keys(db.sessions) == []


async def _old_embed_key(db: Services) -> dict[str, str]:
    """A key row written with the embed role before keys were refused it."""
    secret = "cg_an_embed_key_from_before_the_fix_000000000"
    async with db.sessions() as session:
        session.add(
            ApiKey(
                name="old", role="embed", key_hash=digest(secret), prefix="cg_an_emb"
            )
        )
        await session.commit()
    return {"Authorization": f"Bearer {secret}"}


async def test_an_embed_key_from_before_authenticates_nobody_over_http(
    db: Services, client: httpx.AsyncClient
) -> None:
    headers = await _old_embed_key(db)
    assert (
        await client.post("/graphql", json=READ, headers=headers)
    ).status_code == 401
    export = await client.get("/segments/any/export", headers=headers)
    assert export.status_code == 401


async def test_an_embed_key_from_before_cannot_open_a_websocket(db: Services) -> None:
    headers = await _old_embed_key(db)
    async with serve_app(create_app(services=db)) as base_url:
        url = base_url.replace("http", "ws") + "/graphql"
        async with graphql_socket(url) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": headers}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), ANSWER_WAIT)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


@pytest.fixture
async def jwt_client(db: Services) -> AsyncIterator[httpx.AsyncClient]:
    settings = db.settings.model_copy(update={"jwt_secret": SecretStr(SECRET)})
    async with open_services(settings) as services:
        transport = httpx.ASGITransport(app=create_app(services=services))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            yield http


def bearer(roles: Any) -> dict[str, str]:
    claims = {"sub": "u-1", "exp": int(time.time()) + 60, "roles": roles}
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


@pytest.mark.parametrize("roles", ["embed", ["embed"]])
async def test_a_jwt_claiming_only_the_embed_role_is_401(
    jwt_client: httpx.AsyncClient, roles: Any
) -> None:
    response = await jwt_client.post("/graphql", json=READ, headers=bearer(roles))
    assert response.status_code == 401


async def test_a_jwt_claiming_embed_first_gets_its_next_role(
    jwt_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    created = await client.post(
        "/graphql",
        json={
            "query": 'mutation { createCustomer(input: {email: "maya@example.com"}) '
            "{ id } }"
        },
    )
    by_id = {
        "query": "query($id: ID!) { customer(id: $id) { email } }",
        "variables": {"id": created.json()["data"]["createCustomer"]["id"]},
    }
    response = await jwt_client.post(
        "/graphql", json=by_id, headers=bearer(["embed", "analyst"])
    )
    assert response.status_code == 200
    assert response.json()["data"]["customer"] == {"email": None}
