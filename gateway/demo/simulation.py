"""The three upstream simulators on loopback, configured as this gateway's
upstreams: what ``customer-graph demo``, the benchmark and the tests run on.

The simulators are the connectors' own (``connectors/*/simulator.py``): they
speak the real wire formats, so the gateway reaches them exactly as it would
reach Shopify, Zendesk and PostHog.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from pydantic import SecretStr
from starlette.types import ASGIApp

from connectors.demo_world import World
from connectors.klaviyo.simulator.server import KlaviyoSimulator
from connectors.posthog.simulator.server import PostHogSimulator
from connectors.posthog.simulator.throttles import QUERIES_PER_HOUR
from connectors.shopify.simulator.server import ShopifySimulator
from connectors.simulator_server import serve_app
from connectors.zendesk.simulator.limits import SEARCH_INDEX
from connectors.zendesk.simulator.server import ZendeskSimulator
from gateway.settings import Settings

SHOPIFY_TOKEN = "shpat_demo"
SHOPIFY_SECRET = "shpss_demo_secret"
ZENDESK_EMAIL = "agent@northwind.example"
ZENDESK_TOKEN = "zd-demo-token"
ZENDESK_WEBHOOK_SECRET = "zd-demo-webhook-secret"
POSTHOG_KEY = "phx_demo"
POSTHOG_WEBHOOK_SECRET = "ph-demo-destination-secret"
KLAVIYO_KEY = "pk_demo_klaviyo"
CAMPAIGN_LISTS = (
    "Birthday promo",
    "Reorder reminders",
    "Accessories picks",
    "Portland",
)
"""Klaviyo lists the demo's campaigns subscribe to (``gateway.demo.campaigns``;
they use the account's "VIP early access" and "Win-back" lists too)."""
GENEROUS = 1_000_000
"""Requests per minute (or HogQL queries per hour), where a limit is lifted."""


class Simulator(Protocol):
    @property
    def app(self) -> ASGIApp: ...


@dataclass(slots=True)
class Simulators:
    shopify: ShopifySimulator
    zendesk: ZendeskSimulator
    posthog: PostHogSimulator
    urls: dict[str, str]

    def settings(self, base: Settings) -> Settings:
        """``base`` pointed at the simulators, its upstream budgets the
        simulators' limits; what the operator set explicitly (``CG_*``
        variables, constructor arguments) is kept."""
        simulators = self.by_source()
        demo = {
            name: value
            for source, url in self.urls.items()
            for name, value in {
                **upstream_settings(source, url),
                **budget_settings(simulators[source]),
            }.items()
        }
        unset = {k: v for k, v in demo.items() if k not in base.model_fields_set}
        return base.model_copy(update=unset)

    def by_source(self) -> dict[str, CustomerSimulator]:
        return {
            "shopify": self.shopify,
            "zendesk": self.zendesk,
            "posthog": self.posthog,
        }

    def request_counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """Requests since the counts were reset: by source, and by
        ``"<source> <endpoint>"`` (Shopify's by GraphQL operation)."""
        return by_counts({s: counts(sim) for s, sim in self.by_source().items()})

    def total_requests(self) -> dict[str, int]:
        return self.request_counts()[0]

    def endpoint_counts(self) -> dict[str, int]:
        return self.request_counts()[1]

    def reset_counts(self) -> None:
        for simulator in self.by_source().values():
            reset_counts(simulator)

    def heal(self) -> None:
        """Forget injected failures: one test's outage must not leak into the next."""
        for simulator in self.by_source().values():
            simulator.heal()


CustomerSimulator = ShopifySimulator | ZendeskSimulator | PostHogSimulator
"""The simulators of the three sources of customers' data."""


def counts(simulator: CustomerSimulator) -> tuple[int, dict[str, int]]:
    """``simulator``'s requests since its counts were reset: in all, and by
    ``"<source> <endpoint>"`` (Shopify's by GraphQL operation)."""
    if isinstance(simulator, ShopifySimulator):
        source, counter = "shopify", simulator.operations
    else:
        source = "zendesk" if isinstance(simulator, ZendeskSimulator) else "posthog"
        counter = simulator.requests
    endpoints = {f"{source} {k}": v for k, v in counter.snapshot().items()}
    return simulator.requests.total, endpoints


def by_counts(
    each: dict[str, tuple[int, dict[str, int]]],
) -> tuple[dict[str, int], dict[str, int]]:
    """Each source's ``counts``, as ``Simulators.request_counts`` gives them."""
    totals = {source: total for source, (total, _) in each.items()}
    endpoints = {k: v for _, found in each.values() for k, v in found.items()}
    return totals, endpoints


def reset_counts(simulator: CustomerSimulator) -> None:
    simulator.requests.reset()
    if isinstance(simulator, ShopifySimulator):
        simulator.operations.reset()
    if isinstance(simulator, PostHogSimulator):
        simulator.queries.reset()


def customer_simulator(
    source: str, world: World, latency: float, posthog_queries_per_hour: int
) -> CustomerSimulator:
    """The simulator of ``source`` (one of ``Simulators.by_source``)."""
    if source == "shopify":
        return shopify_simulator(world, latency)
    if source == "zendesk":
        return zendesk_simulator(world, latency)
    return posthog_simulator(world, latency, posthog_queries_per_hour)


def upstream_settings(source: str, url: str) -> dict[str, object]:
    """The settings that point the gateway at ``source``'s simulator at ``url``."""
    return {
        "shopify": {
            "shopify_base_url": url,
            "shopify_shop": "northwind-outfitters",
            "shopify_access_token": SecretStr(SHOPIFY_TOKEN),
            "shopify_api_secret": SecretStr(SHOPIFY_SECRET),
        },
        "zendesk": {
            "zendesk_base_url": url,
            "zendesk_email": ZENDESK_EMAIL,
            "zendesk_api_token": SecretStr(ZENDESK_TOKEN),
            "zendesk_webhook_secret": SecretStr(ZENDESK_WEBHOOK_SECRET),
        },
        "posthog": {
            "posthog_host": url,
            "posthog_project_id": "1",
            "posthog_api_key": SecretStr(POSTHOG_KEY),
            "posthog_webhook_secret": SecretStr(POSTHOG_WEBHOOK_SECRET),
        },
        "klaviyo": {"klaviyo_url": url, "klaviyo_api_key": SecretStr(KLAVIYO_KEY)},
    }[source]


def budget_settings(simulator: Simulator) -> dict[str, object]:
    """The gateway's upstream budget set to the limits ``simulator`` enforces."""
    if isinstance(simulator, ShopifySimulator):
        return {
            "shopify_limit_points_per_second": simulator.bucket.restore_rate,
            "shopify_limit_bucket_points": simulator.bucket.size,
        }
    if isinstance(simulator, ZendeskSimulator):
        return {
            "zendesk_limit_per_minute": simulator.limits.account_limit,
            "zendesk_search_limit_per_minute": simulator.limits.endpoint_limit(
                SEARCH_INDEX
            ),
        }
    if isinstance(simulator, PostHogSimulator):
        return {"posthog_limit_queries_per_hour": simulator.query_budget.rate}
    return {}


def shopify_simulator(world: World, latency: float) -> ShopifySimulator:
    return ShopifySimulator(
        world,
        access_token=SHOPIFY_TOKEN,
        api_secret=SHOPIFY_SECRET,
        latency=latency,
        restore_rate=GENEROUS,
        bucket_size=GENEROUS,
    )


def zendesk_simulator(world: World, latency: float) -> ZendeskSimulator:
    return ZendeskSimulator(
        world,
        email=ZENDESK_EMAIL,
        api_token=ZENDESK_TOKEN,
        latency=latency,
        rate_limit_per_minute=GENEROUS,
        search_per_minute=GENEROUS,
        tickets_index_per_minute=GENEROUS,
    )


def posthog_simulator(
    world: World, latency: float, queries_per_hour: int = QUERIES_PER_HOUR
) -> PostHogSimulator:
    """PostHog's keeps PostHog's real limits, its hourly HogQL query budget
    included (``connectors/posthog/simulator/throttles.py``): the demo meets
    them as a real deployment would."""
    return PostHogSimulator(
        world, api_key=POSTHOG_KEY, latency=latency, queries_per_hour=queries_per_hour
    )


def klaviyo_simulator(world: World, latency: float) -> KlaviyoSimulator:
    """Klaviyo's keeps Klaviyo's limits (the gateway's budgets are computed
    from the same figures, ``connectors.klaviyo.limits``) and runs its bulk
    jobs a few seconds after accepting them, as Klaviyo does; its account
    has the world's consenting customers on a newsletter list, and the
    campaigns' lists (``CAMPAIGN_LISTS``), empty."""
    simulator = KlaviyoSimulator(world, api_key=KLAVIYO_KEY, latency=latency)
    for name in CAMPAIGN_LISTS:
        simulator.account.add_list(name)
    return simulator


SIMULATORS: dict[str, Callable[[World, float], Simulator]] = {
    "shopify": shopify_simulator,
    "zendesk": zendesk_simulator,
    "posthog": posthog_simulator,
    "klaviyo": klaviyo_simulator,
}
"""Each upstream's simulator, by source: the demo starts each on its own
(Klaviyo's is the demo's only: the tests' ``simulated_upstreams`` serve the
three sources of customer data)."""


@asynccontextmanager
async def simulated_upstreams(
    world: World,
    *,
    latency: float = 0.0,
    posthog_queries_per_hour: int = QUERIES_PER_HOUR,
) -> AsyncIterator[Simulators]:
    """Serve the three simulators on free loopback ports for the block's
    duration, each with its fault knobs (``with_faults``). A caller that needs
    more PostHog queries than PostHog allows raises the budget by name."""
    shopify = shopify_simulator(world, latency)
    zendesk = zendesk_simulator(world, latency)
    posthog = posthog_simulator(world, latency, posthog_queries_per_hour)
    async with AsyncExitStack() as stack:
        urls: dict[str, str] = {}
        for name, simulator in (
            ("shopify", shopify),
            ("zendesk", zendesk),
            ("posthog", posthog),
        ):
            served = simulator.with_faults(simulator.app)
            urls[name] = await stack.enter_async_context(serve_app(served))
        yield Simulators(shopify=shopify, zendesk=zendesk, posthog=posthog, urls=urls)
