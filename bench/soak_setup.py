"""The soak's world: the three simulators with the vendors' real limits on a
compressed clock, and the gateway settings compressed alike.

Compressing by ``factor`` K makes one real second K simulated ones for both
sides: the simulators' limits, buckets and search index lag run on a
``ScaledClock(K)``; the gateway's budgets refill K times faster
(``CG_UPSTREAM_CLOCK_FACTOR``) and every duration it keeps in simulated time —
cache TTLs, max staleness, the Zendesk search lag, the insights refresh — is
divided by K. What stays real on both sides: upstream latency, the read
deadline, the breakers' pauses, the Redis timeout (they are about the wire,
not about the vendors' clocks). The PostHog live fallback and the backfill
spend the guard's PostHog budget, compressed with the others.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

from bench.soak_ledger import Ledger
from connectors.demo_world import World
from connectors.posthog.simulator.server import PostHogSimulator
from connectors.shopify.simulator.server import ShopifySimulator
from connectors.simulator_clock import ScaledClock
from connectors.simulator_server import serve_app
from connectors.zendesk.simulator.server import ZendeskSimulator
from gateway.demo.simulation import (
    POSTHOG_KEY,
    SHOPIFY_SECRET,
    SHOPIFY_TOKEN,
    ZENDESK_EMAIL,
    ZENDESK_TOKEN,
    Simulators,
)
from gateway.mirror.backfill import backfill_events
from gateway.runtime.services import open_services
from gateway.settings import Settings

SIMULATED_DURATIONS = (
    "cache_ttl_shopify",
    "cache_ttl_zendesk",
    "cache_ttl_posthog",
    "cache_ttl_links",
    "response_cache_ttl",
    "cache_max_stale_shopify",
    "cache_max_stale_zendesk",
    "cache_max_stale_posthog",
    "zendesk_search_lag",
    "insights_refresh_interval",
)
"""Settings in seconds of the vendors' (and the help desk's) time."""
HISTORY = timedelta(days=730)
"""How far back the mirror's backfill reads before the soak starts."""


def compressed(base: Settings, factor: float) -> Settings:
    """``base`` with its simulated durations divided by ``factor`` and its
    budgets' clocks ``factor`` times faster."""
    defaults = Settings.model_fields
    update: dict[str, object] = {
        name: float(defaults[name].default) / factor for name in SIMULATED_DURATIONS
    }
    update["upstream_clock_factor"] = factor
    return base.model_copy(update=update)


def stale_bounds(settings: Settings) -> dict[str, float]:
    """Per source, the oldest a stale answer may be, in simulated seconds:
    its TTL plus its max staleness (``gateway.cache.read_through``)."""
    defaults = Settings.model_fields
    return {
        source: float(defaults[f"cache_ttl_{source}"].default)
        + float(defaults[f"cache_max_stale_{source}"].default)
        for source in ("shopify", "zendesk", "posthog")
    }


@asynccontextmanager
async def soak_upstreams(
    world: World, clock: ScaledClock, ledger: Ledger, latency: float
) -> AsyncIterator[Simulators]:
    """The simulators with their vendors' limits (Shopify's Standard plan, an
    Enterprise Zendesk account with its search index a minute behind,
    PostHog's throttles) on ``clock``, each call noted in ``ledger``."""
    shopify = ShopifySimulator(
        world,
        access_token=SHOPIFY_TOKEN,
        api_secret=SHOPIFY_SECRET,
        latency=latency,
        clock=clock,
    )
    zendesk = ZendeskSimulator(
        world,
        email=ZENDESK_EMAIL,
        api_token=ZENDESK_TOKEN,
        latency=latency,
        clock=clock,
    )
    posthog = PostHogSimulator(world, api_key=POSTHOG_KEY, latency=latency, clock=clock)
    async with AsyncExitStack() as stack:
        urls: dict[str, str] = {}
        for name, simulator in (
            ("shopify", shopify),
            ("zendesk", zendesk),
            ("posthog", posthog),
        ):
            served = ledger.wrap(name, simulator.with_faults(simulator.app))
            urls[name] = await stack.enter_async_context(serve_app(served))
        yield Simulators(shopify=shopify, zendesk=zendesk, posthog=posthog, urls=urls)


async def backfill_mirror(settings: Settings, world: World) -> int:
    """PostHog's history into the event mirror, as a deployment does once
    (``customer-graph mirror backfill``): HogQL queries within PostHog's
    limits, before the soak's hour. The events stored."""
    async with open_services(settings) as services:
        posthog = services.upstreams.posthog
        if posthog is None:
            raise RuntimeError("PostHog is not configured")
        report = await backfill_events(
            services.sessions,
            posthog,
            since=world.now - HISTORY,
            full=True,
            page_size=settings.posthog_backfill_page_size,
        )
    return report.stored
