"""The embed page in headless Chromium (Debian's package, driven by the
``playwright`` client): it renders a customer's timeline, loads a second page
when scrolled, and shows a live event pushed while it is open — all from the
gateway itself, with every request off loopback aborted."""

from __future__ import annotations

import os
from pathlib import Path

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
            for attempt in range(20):  # the page subscribes a moment after load
                await graphql(
                    gateway.base_url,
                    "mutation($c: ID!, $t: String!) "
                    "{ tagCustomer(customerId: $c, tags: [$t]) { id } }",
                    {"c": customer, "t": f"laptop-call-{attempt}"},
                )
                if await page.locator("li.new").count():
                    break
                await page.wait_for_timeout(500)
            await expect(items.first).to_contain_text("Tag laptop-call-")
            await expect(items.first).to_have_class("new")
            if os.environ.get("CG_UPDATE_SCREENSHOT") or not SCREENSHOT.exists():
                SCREENSHOT.parent.mkdir(exist_ok=True)
                await page.screenshot(path=str(SCREENSHOT))
        assert browser.off_loopback == []
        assert browser.errors == []
