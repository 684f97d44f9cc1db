"""The transports a GraphQL document can arrive by, behind one call.

``send(stage, surface, authorization, document, variables)`` answers an
``Answer`` whatever the transport: the HTTP status (or ``None`` on a
WebSocket), the JSON body (``{"data"…, "errors"…}``; a WebSocket ``error``
message becomes ``{"errors": payload}``), the raw text for leak checks, and a
WebSocket's close code when the server closed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import websockets

from tests.conftest import graphql_socket

if TYPE_CHECKING:
    from tests.security.conftest import Stage

WS_TIMEOUT = 10.0
WS_REFUSAL_CODES = range(4400, 4500)
"""graphql-transport-ws closes a refused socket with 4403 (Forbidden) today;
any 44xx close is accepted."""


class Surface(enum.StrEnum):
    HTTP_POST = "http_post"
    HTTP_GET = "http_get"
    WS = "ws"
    EMBED_HTTP = "embed_http"
    EMBED_WS = "embed_ws"

    @property
    def is_embed(self) -> bool:
        return self in (Surface.EMBED_HTTP, Surface.EMBED_WS)

    @property
    def is_socket(self) -> bool:
        return self in (Surface.WS, Surface.EMBED_WS)


API_SURFACES = [Surface.HTTP_POST, Surface.HTTP_GET, Surface.WS]
EMBED_SURFACES = [Surface.EMBED_HTTP, Surface.EMBED_WS]


@dataclass
class Answer:
    status: int | None
    body: dict[str, Any] | None
    text: str
    close_code: int | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list((self.body or {}).get("errors") or [])

    @property
    def codes(self) -> list[str | None]:
        return [(e.get("extensions") or {}).get("code") for e in self.errors]

    @property
    def data(self) -> Any:
        return (self.body or {}).get("data")


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        parsed = response.json()
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else {"value": parsed}


async def send(
    stage: Stage,
    surface: Surface,
    credential: str | bytes | None,
    document: str,
    variables: dict[str, Any] | None = None,
) -> Answer:
    """``credential`` is an ``Authorization`` value on the API surfaces and the
    embed token on the embed surfaces (``None``: none sent)."""
    variables = variables or {}
    if surface is Surface.WS:
        return await socket(
            stage, "/graphql", {"Authorization": credential}, document, variables
        )
    if surface is Surface.EMBED_WS:
        token = (
            credential.decode("latin-1")
            if isinstance(credential, bytes)
            else credential
        )
        path = "/embed/graphql" + ("" if token is None else f"?token={quote(token)}")
        return await socket(stage, path, {}, document, variables)
    headers: dict[str, str | bytes] = {}
    if surface is Surface.EMBED_HTTP:
        if credential is not None:
            raw = credential if isinstance(credential, bytes) else credential.encode()
            headers["Authorization"] = b"Embed " + raw
        path = "/embed/graphql"
    else:
        if credential is not None:
            headers["Authorization"] = credential
        path = "/graphql"
    if surface is Surface.HTTP_GET:
        response = await stage.http.get(
            path,
            params={"query": document, "variables": json.dumps(variables)},
            headers=headers,
        )
    else:
        response = await stage.http.post(
            path, json={"query": document, "variables": variables}, headers=headers
        )
    return Answer(response.status_code, _json(response), response.text)


async def socket(
    stage: Stage,
    path: str,
    init: dict[str, Any],
    document: str,
    variables: dict[str, Any],
    *,
    until: float = WS_TIMEOUT,
) -> Answer:
    """One operation over graphql-transport-ws: its first ``next`` (or its
    ``error``), or the close code when the server closed the socket."""
    url = stage.base_url.replace("http", "ws", 1) + path
    payload = {
        k: v.decode("latin-1") if isinstance(v, bytes) else v
        for k, v in init.items()
        if v is not None
    }
    messages: list[dict[str, Any]] = []
    texts: list[str] = []
    try:
        async with graphql_socket(url, max_size=2**24) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            ack = await asyncio.wait_for(ws.recv(), until)
            texts.append(str(ack))
            if json.loads(ack).get("type") != "connection_ack":
                return Answer(None, None, "\n".join(texts), messages=messages)
            subscribe = {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": document, "variables": variables},
            }
            await ws.send(json.dumps(subscribe))
            while True:
                raw = await asyncio.wait_for(ws.recv(), until)
                texts.append(str(raw))
                message = json.loads(raw)
                messages.append(message)
                if message.get("type") == "next":
                    return Answer(
                        None, message["payload"], "\n".join(texts), messages=messages
                    )
                if message.get("type") == "error":
                    return Answer(
                        None,
                        {"errors": message["payload"]},
                        "\n".join(texts),
                        messages=messages,
                    )
                if message.get("type") == "complete":  # ended without an answer
                    return Answer(None, None, "\n".join(texts), messages=messages)
    except websockets.ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd is not None else None
        reason = closed.rcvd.reason if closed.rcvd is not None else ""
        texts.append(reason)
        return Answer(None, None, "\n".join(texts), close_code=code, messages=messages)
    except websockets.InvalidStatus as refused:
        status = refused.response.status_code
        text = bytes(refused.response.body or b"").decode("utf-8", "replace")
        return Answer(status, None, text)


@contextlib.asynccontextmanager
async def subscribed(
    stage: Stage,
    path: str,
    init: dict[str, Any],
    document: str,
    variables: dict[str, Any],
):
    """An open subscription; yields the socket once it is acknowledged and
    subscribed (the caller reads its events)."""
    url = stage.base_url.replace("http", "ws", 1) + path
    async with graphql_socket(url) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), WS_TIMEOUT))
        assert ack["type"] == "connection_ack", ack
        subscribe = {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": document, "variables": variables},
        }
        await ws.send(json.dumps(subscribe))
        # the subscription listens once it has read its customer (and, for an
        # embed token, checked its customer's creation): a change sent before
        # is in its first head, never pushed; 0.3 s was short on a busy CI
        await asyncio.sleep(1.0)
        yield ws
