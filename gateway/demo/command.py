"""``customer-graph demo``: the demo world in a local SQLite database, the three
upstream simulators on loopback, linked and summarised (insights), the in-process
cache, and the gateway."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn
from rich.console import Console
from rich.table import Table

from connectors.demo_world import World
from gateway.app import create_app
from gateway.db.models import utcnow
from gateway.demo.seed import seed
from gateway.demo.simulation import simulated_upstreams
from gateway.insights.checkout_facts import sync_checkouts
from gateway.insights.engagement import sync_engagement
from gateway.insights.order_facts import sync_orders
from gateway.insights.refresh import refresh_all
from gateway.insights.segments import create_segment
from gateway.runtime.services import Services, open_services
from gateway.settings import Settings
from gateway.sync.backfill import link_customers

DEMO_SEGMENTS: dict[str, dict[str, object]] = {
    "Win-back": {
        "rfmSegmentIn": ["At Risk", "Hibernating"],
        "consent": {"channel": "email", "state": "granted"},
    },
    "Low satisfaction": {"satisfaction": {"lte": 0.5}, "ticketCount": {"gte": 1}},
    "Premium furniture": {
        "favouriteCategoryBySpend": "Furniture",
        "lifetimeValue": {"gte": 1000},
    },
}
"""Saved segments of docs/segments.md's campaigns, so its export examples run
against the demo as written."""


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
    async with simulated_upstreams(world, latency=latency) as simulators:
        demo_settings = simulators.settings(settings)
        async with open_services(demo_settings) as services:
            count = await seed(services.sessions, world, on_seeded)
            console.print("Linking the simulated upstreams and computing insights…")
            await prepare_insights(services)
            key = demo_settings.demo_api_key
            api_key = key.get_secret_value() if key else ""
            app = create_app(
                services=services, ide_headers={"Authorization": f"Bearer {api_key}"}
            )
            write = demo_settings.ingest_write_key
            write_key = write.get_secret_value() if write else ""
            _announce(console, count, port, simulators.urls, api_key, write_key)
            server = uvicorn.Server(
                uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
            )
            await server.serve()


async def prepare_insights(services: Services) -> None:
    """What an operator runs after connecting a store: link every customer
    (``sync``), copy order and engagement facts, compute traits, RFM and
    segments — so the demo's ``traits`` and ``rfm`` are filled from the start."""
    upstreams = services.upstreams
    for connector in (upstreams.shopify, upstreams.zendesk, upstreams.posthog):
        if connector is not None:
            await link_customers(services.sessions, connector, full=True)
    if upstreams.shopify is not None:
        await sync_orders(services.sessions, upstreams.shopify)
        await sync_checkouts(services.sessions, upstreams.shopify)
    await sync_engagement(services.sessions, upstreams, utcnow())
    await refresh_all(services.sessions, services.settings)
    async with services.sessions() as session, session.begin():
        for name, spec in DEMO_SEGMENTS.items():
            await create_segment(session, name, spec, utcnow())


def _announce(
    console: Console,
    count: int,
    port: int,
    upstreams: dict[str, str],
    api_key: str,
    write_key: str,
) -> None:
    table = Table(title="Customer Graph demo", show_header=False)
    table.add_row("GraphiQL", f"[bold cyan]http://127.0.0.1:{port}/graphql[/]")
    table.add_row("admin API key", f"[bold]{api_key}[/]")
    table.add_row("ingest write key", write_key)
    table.add_row("customers", str(count))
    for name, url in upstreams.items():
        table.add_row(f"{name} (simulated)", url)
    table.add_row("metrics", f"http://127.0.0.1:{port}/metrics")
    console.print(table)
    console.print("Ctrl+C to stop.")
