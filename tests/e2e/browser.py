"""Headless Chromium for the browser tests: Debian's ``chromium``, driven by the
``playwright`` client (never its own browser download), with every request that
leaves loopback aborted and recorded, so a test proves its page works offline."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

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


def require_chromium(what: str) -> Path:
    """Chromium's path; skipped without it on a laptop, a failure in CI."""
    if not CHROMIUM.exists():
        reason = f"needs {CHROMIUM}: apt-get install chromium"
    elif importlib.util.find_spec("playwright") is None:
        reason = "needs the playwright package: pip install -e '.[dev]'"
    else:
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"{what} {reason}")
    pytest.skip(f"{what} {reason}")


@dataclass
class OfflinePage:
    page: Any
    """A playwright ``Page``."""
    off_loopback: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@asynccontextmanager
async def offline_page(
    chromium: Path, **context_options: Any
) -> AsyncIterator[OfflinePage]:
    from playwright.async_api import Route, async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = await browser.new_context(**context_options)
            opened = OfflinePage(page=await context.new_page())

            async def only_loopback(route: Route) -> None:
                if urlsplit(route.request.url).hostname in LOOPBACK:
                    await route.continue_()
                else:
                    opened.off_loopback.append(route.request.url)
                    await route.abort()

            await context.route("**/*", only_loopback)
            opened.page.on("pageerror", lambda error: opened.errors.append(str(error)))
            yield opened
        finally:
            await browser.close()
