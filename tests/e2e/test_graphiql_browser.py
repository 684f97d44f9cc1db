"""GraphiQL in a real, offline browser: the gateway's own page runs a query.

Headless Chromium (Debian's ``chromium`` package, driven by the ``playwright``
client without its own browser download) opens ``/graphql`` on the real app
served by uvicorn on loopback (``serve_app``). Every request leaving loopback is
aborted and recorded, so the test proves the page needs no CDN; the server
records the headers of each GraphQL request, so it proves the demo's default
Authorization header is sent.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import SecretStr
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectors.simulator_server import serve_app
from gateway.app import create_app
from gateway.db.session import upgrade
from gateway.services import open_services
from gateway.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
API_KEY = "cg_e2e_graphiql_key"
EMAIL = "ada.lovelace@example.org"


@dataclass
class GraphQLRecorder:
    """ASGI wrapper keeping the Authorization header and body of each POST."""

    app: ASGIApp
    posts: list[tuple[str | None, dict[str, object]]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = bytearray()

        async def tap() -> Message:
            message = await receive()
            body.extend(message.get("body", b""))
            return message

        await self.app(scope, tap, send)
        authorization = Headers(scope=scope).get("authorization")
        self.posts.append((authorization, json.loads(body or b"{}")))


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium; skipped without it on a laptop, a failure in CI."""
    if not CHROMIUM.exists():
        reason = f"needs {CHROMIUM}: apt-get install chromium"
    elif importlib.util.find_spec("playwright") is None:
        reason = "needs the playwright package: pip install -e '.[dev]'"
    else:
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"GraphiQL browser test {reason}")
    pytest.skip(f"GraphiQL browser test {reason}")


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[str, GraphQLRecorder]]:
    """The real gateway on a free loopback port, with one customer in it."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'graphiql.db'}"
    await asyncio.to_thread(upgrade, database_url)
    settings = Settings(database_url=database_url, demo_api_key=SecretStr(API_KEY))
    async with open_services(settings) as services:
        app = create_app(
            services=services, ide_headers={"Authorization": f"Bearer {API_KEY}"}
        )
        recorder = GraphQLRecorder(app)
        async with serve_app(recorder) as base_url:
            async with httpx.AsyncClient(
                base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"}
            ) as client:
                created = await client.post(
                    "/graphql",
                    json={
                        "query": "mutation($email: String!) "
                        "{ createCustomer(input: {email: $email}) { id } }",
                        "variables": {"email": EMAIL},
                    },
                )
            assert "errors" not in created.json(), created.json()
            recorder.posts.clear()
            yield base_url, recorder


async def test_graphiql_runs_the_default_query_offline_with_the_default_headers(
    chromium, server
):
    from playwright.async_api import Route, async_playwright, expect

    base_url, recorder = server
    off_loopback: list[str] = []
    page_errors: list[str] = []

    async def only_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            await route.continue_()
        else:
            off_loopback.append(route.request.url)
            await route.abort()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = await browser.new_context()
            await context.route("**/*", only_loopback)
            page = await context.new_page()
            page.on("pageerror", lambda error: page_errors.append(str(error)))

            await page.goto(f"{base_url}/graphql")
            headers_editor = page.locator(".graphiql-editor-tool .graphiql-editor")
            await expect(headers_editor.last).to_contain_text(f"Bearer {API_KEY}")
            await page.locator(".graphiql-execute-button").click()
            await expect(page.locator(".result-window")).to_contain_text(
                EMAIL, timeout=15_000
            )
        finally:
            await browser.close()

    assert off_loopback == []
    assert page_errors == []
    queries = [
        authorization
        for authorization, body in recorder.posts
        if "FirstCustomers" in str(body.get("query"))
    ]
    assert queries == [f"Bearer {API_KEY}"]
