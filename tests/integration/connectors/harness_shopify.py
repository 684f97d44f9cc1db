"""The Shopify connector and simulator, as the conformance suite drives them."""

from __future__ import annotations

from starlette.types import ASGIApp

from connectors.demo_world import World
from connectors.retry import RetryPolicy
from connectors.shopify.client import ShopifyConnector
from connectors.shopify.simulator.server import ShopifySimulator

TOKEN = "shpat_conformance"
RETRY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)


class ShopifyHarness:
    name = "shopify"

    def simulator(self, world: World) -> ShopifySimulator:
        return ShopifySimulator(
            world, access_token=TOKEN, bucket_size=1e6, restore_rate=1e6
        )

    def app(self, simulator: ShopifySimulator) -> ASGIApp:
        return simulator.app

    def connector(
        self, simulator: ShopifySimulator, base_url: str, *, valid_auth: bool = True
    ) -> ShopifyConnector:
        token = TOKEN if valid_auth else "shpat_revoked"
        return ShopifyConnector(base_url, token, page_size=3, retry=RETRY)

    def fail_next(self, simulator: ShopifySimulator, status: int, n: int = 1) -> None:
        simulator.fail_next(n, status=status)

    def requests(self, simulator: ShopifySimulator) -> int:
        return simulator.requests["graphql"]

    def credentials_seen(self, simulator: ShopifySimulator) -> bool:
        return simulator.last_headers.get("x-shopify-access-token") == TOKEN

    def existing_id(self, simulator: ShopifySimulator) -> str:
        return simulator.customer_gid(1)

    def deleted_id(self, simulator: ShopifySimulator) -> str:
        return simulator.customer_gid(7)

    async def read_long_list(
        self, simulator: ShopifySimulator, connector: ShopifyConnector
    ) -> tuple[int, int]:
        store = simulator.store
        number = max(
            store.orders_by_customer, key=lambda n: len(store.orders_by_customer[n])
        )
        gid = store.customers[number]["id"]
        orders = await connector.orders_by_customers([gid])
        return len(orders[gid]), len(store.orders_by_customer[number])


HARNESS = ShopifyHarness()
