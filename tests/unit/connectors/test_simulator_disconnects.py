"""A client that leaves before its request body is read (its own timeout
passed) is what a real upstream sees now and then: the simulators answer it
quietly (499, to nobody) instead of raising out of the app, which uvicorn
logged as "Exception in ASGI application" with a traceback."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.types import ASGIApp, Message

from connectors.demo_world import World
from gateway.demo.simulation import (
    POSTHOG_KEY,
    SHOPIFY_TOKEN,
    posthog_simulator,
    shopify_simulator,
)

WORLD = World(seed=3, size=5)

Case = tuple[Callable[[], ASGIApp], str, dict[str, str]]
CASES: dict[str, Case] = {
    "shopify": (
        lambda: shopify_simulator(WORLD, 0.0).app,
        "/admin/api/2025-07/graphql.json",
        {"x-shopify-access-token": SHOPIFY_TOKEN},
    ),
    "posthog": (
        lambda: posthog_simulator(WORLD, 0.0).app,
        "/api/projects/1/query/",
        {"authorization": f"Bearer {POSTHOG_KEY}"},
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
async def test_a_client_gone_before_its_body_is_answered_quietly(name: str) -> None:
    make, path, headers = CASES[name]
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", b"100"),
            *((k.encode(), v.encode()) for k, v in headers.items()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await make()(scope, receive, send)
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 499
