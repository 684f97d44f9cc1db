"""``customer-graph demo``: the demo world in a local SQLite database, the three
upstream simulators on loopback, linked and summarised (insights), the in-process
cache, and the gateway. An upstream that is missing (a simulator that does not
start, an address of the operator's where nothing listens) is said in one log
line and left out (``gateway.demo.upstreams``); the rest works."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import timedelta

import uvicorn
from rich.console import Console
from rich.table import Table

from connectors.demo_world import World
from connectors.posthog.hogql import MAX_ROWS
from gateway.app import create_app
from gateway.db.models import utcnow
from gateway.demo.campaigns import save_segments, set_face_cream, start_campaigns
from gateway.demo.seed import seed
from gateway.demo.upstreams import DemoUpstreams, open_upstreams
from gateway.insights.checkout_facts import sync_checkouts
from gateway.insights.engagement import sync_engagement
from gateway.insights.order_facts import sync_orders
from gateway.insights.refresh import refresh_all
from gateway.mirror.backfill import backfill_events
from gateway.runtime.one_write import OneWriteProtocol
from gateway.runtime.services import Services, open_services
from gateway.settings import Settings
from gateway.sync.backfill import link_customers

DEMO_HISTORY = timedelta(days=365)
"""The simulated PostHog's events reach 90 days back: all of them."""


async def run_demo(
    settings: Settings,
    *,
    port: int,
    size: int,
    world_seed: int,
    on_seeded: Callable[[int], None],
    console: Console,
    latency: float = 0.0,
) -> None:
    world = World(seed=world_seed, size=size)
    async with AsyncExitStack() as stack:
        upstreams = await open_upstreams(settings, world, latency, stack)
        demo_settings = upstreams.settings
        async with open_services(demo_settings) as services:
            count = await seed(services.sessions, world, on_seeded)
            console.print("Linking the simulated upstreams and computing insights…")
            await prepare_insights(services)
            opened = await start_campaigns(services, utcnow())
            console.print(f"Campaigns saved as automations; {opened} runs opened.")
            key = demo_settings.demo_api_key
            api_key = key.get_secret_value() if key else ""
            app = create_app(
                services=services,
                ide_headers={"Authorization": f"Bearer {api_key}"},
                worker=demo_settings.jobs_worker,
            )
            write = demo_settings.ingest_write_key
            write_key = write.get_secret_value() if write else ""
            _announce(console, count, port, upstreams, api_key, write_key)
            server = uvicorn.Server(
                uvicorn.Config(
                    app,
                    host="127.0.0.1",
                    port=port,
                    log_level="warning",
                    http=OneWriteProtocol,  # as ``serve`` answers
                )
            )
            try:
                await server.serve()
            except asyncio.CancelledError:  # stopped by its caller, not Ctrl+C
                await server.shutdown()
                raise


async def mirror_posthog(services: Services) -> None:
    """The simulated PostHog's whole history in the event mirror (``mirror
    backfill``): one query."""
    if services.upstreams.posthog is not None:
        await backfill_events(
            services.sessions,
            services.upstreams.posthog,
            since=utcnow() - DEMO_HISTORY,
            full=True,
            page_size=MAX_ROWS,
        )


async def prepare_insights(services: Services) -> None:
    """What an operator runs after connecting a store: link every customer
    (``sync``), backfill the PostHog event mirror (``mirror backfill``), copy
    order and engagement facts, compute traits, RFM and segments — so the
    demo's ``traits`` and ``rfm`` are filled from the start and its views of
    web activity send PostHog no query."""
    upstreams = services.upstreams
    for connector in (upstreams.shopify, upstreams.zendesk, upstreams.posthog):
        if connector is not None:
            await link_customers(
                services.sessions, connector, full=True, rules=services.match_rules
            )
    await mirror_posthog(services)
    if upstreams.shopify is not None:
        await sync_orders(services.sessions, upstreams.shopify)
        await sync_checkouts(services.sessions, upstreams.shopify)
        await set_face_cream(services)
    await sync_engagement(
        services.sessions,
        upstreams,
        utcnow(),
        live_fallback=services.settings.posthog_live_fallback,
    )
    await refresh_all(services.sessions, services.settings)
    await save_segments(services, utcnow())


def _announce(
    console: Console,
    count: int,
    port: int,
    upstreams: DemoUpstreams,
    api_key: str,
    write_key: str,
) -> None:
    table = Table(title="Customer Graph demo", show_header=False)
    table.add_row("GraphiQL", f"[bold cyan]http://127.0.0.1:{port}/graphql[/]")
    table.add_row("admin API key", f"[bold]{api_key}[/]")
    table.add_row("ingest write key", write_key)
    table.add_row("customers", str(count))
    for name, url in upstreams.urls.items():
        table.add_row(f"{name} (simulated)", url)
    for name in upstreams.missing:
        table.add_row(name, "[red]missing[/] (see the log line above)")
    table.add_row("metrics", f"http://127.0.0.1:{port}/metrics")
    console.print(table)
    console.print("Ctrl+C to stop.")
