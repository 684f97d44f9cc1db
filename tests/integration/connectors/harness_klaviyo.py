"""The Klaviyo connector and simulator, as the conformance suite drives them:
profiles by id (Get Profiles with ``any(id,[…])``), the account's lists
paged ten at a time."""

from __future__ import annotations

from starlette.types import ASGIApp

from connectors.demo_world import World
from connectors.klaviyo.client import KlaviyoConnector
from connectors.klaviyo.limits import ENDPOINTS, Limit
from connectors.klaviyo.simulator.server import KlaviyoSimulator
from connectors.retry import RetryPolicy

KEY = "pk_conformance_key"
RETRY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)
GENEROUS = {name: Limit(burst=100_000, steady=100_000) for name in ENDPOINTS}


class KlaviyoHarness:
    name = "klaviyo"

    def simulator(self, world: World) -> KlaviyoSimulator:
        sim = KlaviyoSimulator(world, api_key=KEY, limits=GENEROUS)
        for number in range(22):
            sim.account.add_list(f"Campaign {number}")
        return sim

    def app(self, simulator: KlaviyoSimulator) -> ASGIApp:
        return simulator.app

    def connector(
        self, simulator: KlaviyoSimulator, base_url: str, *, valid_auth: bool = True
    ) -> KlaviyoConnector:
        return KlaviyoConnector(
            base_url, KEY if valid_auth else "pk_revoked", retry=RETRY
        )

    def fail_next(self, simulator: KlaviyoSimulator, status: int, n: int = 1) -> None:
        if status == 429:
            simulator.force_rate_limit(n, retry_after=0)
        else:
            simulator.fail_next(n, status=status)

    def requests(self, simulator: KlaviyoSimulator) -> int:
        return simulator.requests.total

    def credentials_seen(self, simulator: KlaviyoSimulator) -> bool:
        headers = simulator.last_headers
        return (
            headers.get("authorization") == f"Klaviyo-API-Key {KEY}"
            and headers.get("revision") == "2026-07-15"
        )

    def existing_id(self, simulator: KlaviyoSimulator) -> str:
        return min(simulator.account.profiles)

    def deleted_id(self, simulator: KlaviyoSimulator) -> str:
        return "01ZZZZZZZZZZZZZZZZZZZZZZZZ"

    async def read_long_list(
        self, simulator: KlaviyoSimulator, connector: KlaviyoConnector
    ) -> tuple[int, int]:
        """The account's 25 lists: three pages of ten."""
        lists = await connector.lists()
        return len({item.id for item in lists}), len(simulator.account.lists)


HARNESS = KlaviyoHarness()
