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
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectors.simulator_server import serve_app
from gateway.app import create_app
from gateway.db.session import upgrade
from gateway.runtime.services import open_services
from gateway.settings import Settings
from tests.conftest import ANSWER_WAIT
from tests.e2e.browser import offline_page, require_chromium

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
    return require_chromium("GraphiQL browser test")


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
                base_url=base_url,
                headers={"Authorization": f"Bearer {API_KEY}"},
                timeout=ANSWER_WAIT,
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
    from playwright.async_api import expect

    base_url, recorder = server
    async with offline_page(chromium) as browser:
        page = browser.page
        await page.goto(f"{base_url}/graphql")
        headers_editor = page.locator(".graphiql-editor-tool .graphiql-editor")
        await expect(headers_editor.last).to_contain_text(f"Bearer {API_KEY}")
        await page.locator(".graphiql-execute-button").click()
        await expect(page.locator(".result-window")).to_contain_text(
            EMAIL, timeout=15_000
        )

    assert browser.off_loopback == []
    assert browser.errors == []
    queries = [
        authorization
        for authorization, body in recorder.posts
        if "FirstCustomers" in str(body.get("query"))
    ]
    assert queries == [f"Bearer {API_KEY}"]


async def test_graphiql_reads_the_schema_for_its_docs_panel_and_autocomplete(
    chromium, server
):
    """GraphiQL fetches the schema with the standard introspection query; the
    Docs panel then shows ``Customer`` and Ctrl-Space completes root fields."""
    from playwright.async_api import expect

    base_url, recorder = server
    async with offline_page(chromium) as browser:
        page = browser.page
        await page.goto(f"{base_url}/graphql")
        await page.get_by_label("Show Documentation Explorer").click()
        docs = page.locator(".graphiql-doc-explorer")
        await docs.get_by_role("link", name="Query", exact=True).click()
        await docs.get_by_role("link", name="Customer", exact=True).first.click()
        await expect(page.locator(".graphiql-doc-explorer-title")).to_have_text(
            "Customer", timeout=15_000
        )
        await expect(docs).to_contain_text("email")
        editor = page.locator(".graphiql-query-editor .CodeMirror")
        await editor.evaluate("(node) => node.CodeMirror.setValue('{ custo')")
        await editor.evaluate(
            "(node) => node.CodeMirror.setCursor(node.CodeMirror.lineCount(), 0)"
        )
        await page.locator(".graphiql-query-editor textarea").focus()
        await page.keyboard.press("Control+Space")
        hints = page.locator(".CodeMirror-hints")
        await expect(hints).to_contain_text("customers", timeout=15_000)
        assert "Error fetching schema" not in await page.content()

    assert browser.off_loopback == []
    assert browser.errors == []
    introspections = [
        body for _, body in recorder.posts if "__schema" in str(body.get("query"))
    ]
    assert introspections


async def test_graphiql_sends_the_operation_name_of_the_document_it_runs(
    chromium, server
):
    """The named default query replaced by an anonymous one and run at once
    (before GraphiQL's 100 ms re-read of the editor): the request carries no
    stale ``operationName``, and the query runs."""
    from playwright.async_api import expect

    base_url, recorder = server
    anonymous = "{ customers(first: 1) { edges { node { email } } } }"
    async with offline_page(chromium) as browser:
        page = browser.page
        await page.goto(f"{base_url}/graphql")
        editor = page.locator(".graphiql-query-editor .CodeMirror")
        await expect(editor).to_contain_text("FirstCustomers")
        await page.wait_for_timeout(300)  # GraphiQL has read the default's name
        await editor.evaluate(
            """(node, query) => {
                node.CodeMirror.setValue(query);
                document.querySelector('.graphiql-execute-button').click();
            }""",
            anonymous,
        )
        await expect(page.locator(".result-window")).to_contain_text(
            EMAIL, timeout=15_000
        )

    assert browser.errors == []
    sent = [body for _, body in recorder.posts if body.get("query") == anonymous]
    assert len(sent) == 1
    assert sent[0].get("operationName") is None
