"""The embed page in headless Chromium (Debian's package, driven by the
``playwright`` client): it renders a customer's timeline, loads a second page
when scrolled, and shows a live event pushed while it is open — all from the
gateway itself, with every request off loopback aborted."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from strawberry.relay import to_base64

from tests.conftest import ANSWER_WAIT
from tests.e2e.browser import offline_page
from tests.e2e.live_gateway import AUTH, live_gateways
from tests.e2e.test_graphiql_browser import chromium

__all__ = ["chromium"]

SCREENSHOT = Path(__file__).parents[2] / "docs" / "embed-timeline.png"


async def graphql(base_url: str, query: str, variables: dict) -> dict:
    async with httpx.AsyncClient(
        base_url=base_url, headers=AUTH, timeout=ANSWER_WAIT
    ) as http:
        body: dict = (
            await http.post("/graphql", json={"query": query, "variables": variables})
        ).json()
    assert "errors" not in body, body
    return body["data"]


async def tag_until_shown(page: Any, base_url: str, customer: str, tag: str) -> None:
    """Tag the customer (``<tag>-<n>``) until the page shows a new event: it
    subscribes a moment after it loads."""
    for attempt in range(20):
        await graphql(
            base_url,
            "mutation($c: ID!, $t: String!) "
            "{ tagCustomer(customerId: $c, tags: [$t]) { id } }",
            {"c": customer, "t": f"{tag}-{attempt}"},
        )
        if await page.locator("li.new").count():
            return
        await page.wait_for_timeout(500)


async def test_the_embed_page_scrolls_pages_and_shows_live_events(
    chromium: Path, tmp_path: Path
):
    from playwright.async_api import expect

    async with live_gateways(tmp_path) as ([gateway], _):
        customer = to_base64("Customer", 4)
        issued = await graphql(
            gateway.base_url,
            "mutation($c: ID!) { createEmbedToken(customerId: $c, ttlSeconds: 600) "
            "{ url } }",
            {"c": customer},
        )
        async with offline_page(
            chromium, viewport={"width": 420, "height": 640}
        ) as browser:
            page = browser.page
            await page.goto(gateway.base_url + issued["createEmbedToken"]["url"])
            items = page.locator("customer-timeline li")
            await expect(items).to_have_count(20, timeout=15_000)
            await expect(page.locator("customer-timeline .live")).to_have_text("● live")
            await page.locator("customer-timeline .list").evaluate(
                "list => list.scrollTo(0, list.scrollHeight)"
            )
            await expect(items.nth(20)).to_be_attached(timeout=10_000)
            await page.locator("customer-timeline .list").evaluate(
                "list => list.scrollTo(0, 0)"
            )
            await tag_until_shown(page, gateway.base_url, customer, "laptop-call")
            await expect(items.first).to_contain_text("Tag laptop-call-")
            await expect(items.first).to_have_class("new")
            if os.environ.get("CG_UPDATE_SCREENSHOT") or not SCREENSHOT.exists():
                SCREENSHOT.parent.mkdir(exist_ok=True)
                await page.screenshot(path=str(SCREENSHOT))
        assert browser.off_loopback == []
        assert browser.errors == []


HOST_PAGE = """<!doctype html><html><head><meta charset="utf-8"></head><body>
<script src="{gateway}/embed/customer-timeline.js"></script>
<customer-timeline token="{token}" gateway="{gateway}"></customer-timeline>
</body></html>"""


@contextmanager
def host_tool(page: str) -> Iterator[str]:
    """A help desk's page on an origin of its own (another host and port than
    the gateway's), served from a thread: where the ``<script>`` drop-in runs."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/sidebar"
    finally:
        server.shutdown()
        server.server_close()


async def test_the_script_drop_in_on_another_origin_renders_and_goes_live(
    chromium: Path, tmp_path: Path
):
    """CORS on the HTTP endpoint and any origin on its WebSocket: the drop-in
    runs on the host tool's page, its token never in a cookie."""
    from playwright.async_api import expect

    async with live_gateways(tmp_path) as ([gateway], _):
        customer = to_base64("Customer", 4)
        issued = await graphql(
            gateway.base_url,
            "mutation($c: ID!) { createEmbedToken(customerId: $c, ttlSeconds: 600) "
            "{ token } }",
            {"c": customer},
        )
        page_html = HOST_PAGE.format(
            gateway=gateway.base_url, token=issued["createEmbedToken"]["token"]
        )
        with host_tool(page_html) as sidebar:
            assert urlsplit(sidebar).netloc != urlsplit(gateway.base_url).netloc
            async with offline_page(
                chromium, viewport={"width": 420, "height": 640}
            ) as browser:
                page = browser.page
                await page.goto(sidebar)
                items = page.locator("customer-timeline li")
                # one page: unsized on the host's page, the list is at most
                # the window's height, so it scrolls rather than loading all
                await expect(items).to_have_count(20, timeout=15_000)
                live = page.locator("customer-timeline .live")
                await expect(live).to_have_text("● live", timeout=10_000)
                await tag_until_shown(page, gateway.base_url, customer, "sidebar-call")
                await expect(items.first).to_contain_text("Tag sidebar-call-")
                assert await items.count() < 40  # still about one page
        assert browser.off_loopback == []
        assert browser.errors == []
