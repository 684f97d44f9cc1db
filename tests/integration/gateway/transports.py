"""Every way an operation reaches the gateway, behind one call, so a table of
hostile inputs can be run on each and the answers compared: HTTP POST and GET
and graphql-transport-ws on ``/graphql``, HTTP POST and WebSocket on
``/embed/graphql``. The app is served by uvicorn on loopback (WebSockets need
a real server)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import websockets

from connectors.simulator_server import serve_app
from gateway.app import create_app
from gateway.auth.embed_tokens import create_token
from gateway.runtime.services import Services, open_services
from tests.conftest import ADMIN, graphql_socket


@dataclass
class Answer:
    status: int | None
    """The HTTP status; ``None`` over a WebSocket."""
    codes: list[str] = field(default_factory=list)
    text: str = ""
    closed: int | None = None
    """The close code when the socket was closed instead of answering."""


@dataclass
class Served:
    base_url: str
    services: Services
    api_headers: dict[str, str]
    embed_token: str

    @property
    def ws_base(self) -> str:
        return self.base_url.replace("http://", "ws://")


def _codes(body: Any) -> list[str]:
    errors = body if isinstance(body, list) else (body or {}).get("errors") or []
    return [str((e.get("extensions") or {}).get("code")) for e in errors]


async def _http(
    served: Served, method: str, path: str, headers: dict[str, Any], payload: dict
) -> Answer:
    async with httpx.AsyncClient(base_url=served.base_url, timeout=30) as http:
        if method == "GET":
            params = {
                k: json.dumps(v) if k == "variables" else v for k, v in payload.items()
            }
            response = await http.get(path, params=params, headers=headers)
        else:
            response = await http.post(path, json=payload, headers=headers)
    try:
        body = response.json()
    except ValueError:
        body = None
    return Answer(response.status_code, _codes(body), response.text)


async def _socket(url: str, init: dict[str, Any], payload: dict) -> Answer:
    async with graphql_socket(url) as ws:
        try:
            await ws.send(json.dumps({"type": "connection_init", "payload": init}))
            ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert ack["type"] == "connection_ack", ack
            subscribe = {"id": "1", "type": "subscribe", "payload": payload}
            await ws.send(json.dumps(subscribe))
            raw = await asyncio.wait_for(ws.recv(), 30)
        except websockets.ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else None
            return Answer(None, closed=code)
    message = json.loads(raw)
    body = message["payload"] if message["type"] == "error" else message["payload"]
    return Answer(None, _codes(body), raw)


async def graphql_post(served: Served, payload: dict, auth: Any = None) -> Answer:
    headers = served.api_headers if auth is None else {"Authorization": auth}
    return await _http(served, "POST", "/graphql", headers, payload)


async def graphql_get(served: Served, payload: dict, auth: Any = None) -> Answer:
    headers = served.api_headers if auth is None else {"Authorization": auth}
    return await _http(served, "GET", "/graphql", headers, payload)


async def graphql_ws(served: Served, payload: dict, auth: Any = None) -> Answer:
    init = served.api_headers if auth is None else {"Authorization": auth}
    return await _socket(served.ws_base + "/graphql", init, payload)


async def embed_post(served: Served, payload: dict, auth: Any = None) -> Answer:
    token = served.embed_token if auth is None else auth
    headers = {"Authorization": f"Embed {token}".strip().encode("latin-1")}
    return await _http(served, "POST", "/embed/graphql", headers, payload)


async def embed_ws(served: Served, payload: dict, auth: Any = None) -> Answer:
    token = served.embed_token if auth is None else auth
    url = served.ws_base + f"/embed/graphql?token={quote(token, safe='')}"
    return await _socket(url, {}, payload)


Send = Callable[[Served, dict, Any], Awaitable[Answer]]
API = {"HTTP POST": graphql_post, "HTTP GET": graphql_get, "WebSocket": graphql_ws}
EMBED = {"embed HTTP": embed_post, "embed WebSocket": embed_ws}
EVERY = {**API, **EMBED}


@asynccontextmanager
async def served(db: Services, **settings: Any) -> AsyncIterator[Served]:
    """The app over ``db``'s database, some settings changed, on loopback."""
    async with open_services(db.settings.model_copy(update=settings)) as services:
        secret = services.settings.secret_key.get_secret_value()
        token, _ = create_token(secret, 1, 600)
        async with serve_app(create_app(services=services)) as base_url:
            yield Served(base_url, services, dict(ADMIN), token)
