"""The three upstream simulators on loopback, configured as this gateway's
upstreams: what ``customer-graph demo``, the benchmark and the tests run on.

The simulators are the connectors' own (``connectors/*/simulator.py``): they
speak the real wire formats, so the gateway reaches them exactly as it would
reach Shopify, Zendesk and PostHog.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from pydantic import SecretStr

from connectors.demo_world import World
from connectors.posthog.simulator.server import PostHogSimulator
from connectors.posthog.simulator.throttles import QUERIES_PER_HOUR
from connectors.shopify.simulator.server import ShopifySimulator
from connectors.simulator_server import serve_app
from connectors.zendesk.simulator.server import ZendeskSimulator
from gateway.settings import Settings

SHOPIFY_TOKEN = "shpat_demo"
SHOPIFY_SECRET = "shpss_demo_secret"
ZENDESK_EMAIL = "agent@northwind.example"
ZENDESK_TOKEN = "zd-demo-token"
ZENDESK_WEBHOOK_SECRET = "zd-demo-webhook-secret"
POSTHOG_KEY = "phx_demo"
GENEROUS = 1_000_000
"""Requests per minute (or HogQL queries per hour), where a limit is lifted."""


@dataclass(slots=True)
class Simulators:
    shopify: ShopifySimulator
    zendesk: ZendeskSimulator
    posthog: PostHogSimulator
    urls: dict[str, str]

    def settings(self, base: Settings) -> Settings:
        """``base`` pointed at the simulators; what the operator set explicitly
        (``CG_*`` variables, constructor arguments) is kept."""
        demo: dict[str, object] = {
            "shopify_base_url": self.urls["shopify"],
            "shopify_shop": "northwind-outfitters",
            "shopify_access_token": SecretStr(SHOPIFY_TOKEN),
            "shopify_api_secret": SecretStr(SHOPIFY_SECRET),
            "zendesk_base_url": self.urls["zendesk"],
            "zendesk_email": ZENDESK_EMAIL,
            "zendesk_api_token": SecretStr(ZENDESK_TOKEN),
            "zendesk_webhook_secret": SecretStr(ZENDESK_WEBHOOK_SECRET),
            "posthog_host": self.urls["posthog"],
            "posthog_project_id": "1",
            "posthog_api_key": SecretStr(POSTHOG_KEY),
        }
        unset = {k: v for k, v in demo.items() if k not in base.model_fields_set}
        return base.model_copy(update=unset)

    def total_requests(self) -> dict[str, int]:
        return {
            "shopify": self.shopify.requests.total,
            "zendesk": self.zendesk.requests.total,
            "posthog": self.posthog.requests.total,
        }

    def reset_counts(self) -> None:
        for simulator in (self.shopify, self.zendesk, self.posthog):
            simulator.requests.reset()
        self.shopify.operations.reset()
        self.posthog.queries.reset()

    def heal(self) -> None:
        """Forget injected failures: one test's outage must not leak into the next."""
        for simulator in (self.shopify, self.zendesk, self.posthog):
            simulator.heal()


@asynccontextmanager
async def simulated_upstreams(
    world: World,
    *,
    latency: float = 0.0,
    posthog_queries_per_hour: int = QUERIES_PER_HOUR,
) -> AsyncIterator[Simulators]:
    """Serve the three simulators on free loopback ports for the block's duration.

    PostHog's keeps PostHog's real limits, its hourly HogQL query budget
    included (``connectors/posthog/simulator/throttles.py``): the demo meets them
    as a real deployment would. A caller that needs more queries raises the
    budget by name (``posthog_queries_per_hour``)."""
    shopify = ShopifySimulator(
        world,
        access_token=SHOPIFY_TOKEN,
        api_secret=SHOPIFY_SECRET,
        latency=latency,
        restore_rate=GENEROUS,
        bucket_size=GENEROUS,
    )
    zendesk = ZendeskSimulator(
        world,
        email=ZENDESK_EMAIL,
        api_token=ZENDESK_TOKEN,
        latency=latency,
        rate_limit_per_minute=GENEROUS,
        search_per_minute=GENEROUS,
        tickets_index_per_minute=GENEROUS,
    )
    posthog = PostHogSimulator(
        world,
        api_key=POSTHOG_KEY,
        latency=latency,
        queries_per_hour=posthog_queries_per_hour,
    )
    async with AsyncExitStack() as stack:
        urls = {
            "shopify": await stack.enter_async_context(serve_app(shopify.app)),
            "zendesk": await stack.enter_async_context(serve_app(zendesk.app)),
            "posthog": await stack.enter_async_context(serve_app(posthog.app)),
        }
        yield Simulators(shopify=shopify, zendesk=zendesk, posthog=posthog, urls=urls)
