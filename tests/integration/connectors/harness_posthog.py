"""The PostHog connector and simulator, as the conformance suite drives them."""

from __future__ import annotations

from starlette.types import ASGIApp

from connectors.demo_world import World
from connectors.posthog.client import PostHogConnector
from connectors.posthog.simulator.server import PostHogSimulator
from connectors.retry import RetryPolicy

PROJECT = 3
KEY = "phx_conformance"
RETRY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)


class PostHogHarness:
    name = "posthog"

    def simulator(self, world: World) -> PostHogSimulator:
        """With PostHog's real limits (120 HogQL queries an hour)."""
        return PostHogSimulator(world, project_id=PROJECT, api_key=KEY)

    def app(self, simulator: PostHogSimulator) -> ASGIApp:
        return simulator.app

    def connector(
        self, simulator: PostHogSimulator, base_url: str, *, valid_auth: bool = True
    ) -> PostHogConnector:
        key = KEY if valid_auth else "phx_revoked"
        return PostHogConnector(base_url, PROJECT, key, retry=RETRY)

    def fail_next(self, simulator: PostHogSimulator, status: int, n: int = 1) -> None:
        if status == 429:
            simulator.force_rate_limit(n, retry_after=0)
        else:
            simulator.fail_next(n, status=status)

    def requests(self, simulator: PostHogSimulator) -> int:
        return simulator.requests.total

    def credentials_seen(self, simulator: PostHogSimulator) -> bool:
        return simulator.last_headers.get("authorization") == f"Bearer {KEY}"

    def existing_id(self, simulator: PostHogSimulator) -> str:
        return simulator.analytics.persons[0].distinct_ids[0]

    def deleted_id(self, simulator: PostHogSimulator) -> str:
        """The email of a world customer PostHog has no person for."""
        known = simulator.analytics.by_distinct_id
        return next(
            c.email for c in simulator.analytics.world.customers if c.email not in known
        )

    async def read_long_list(
        self, simulator: PostHogSimulator, connector: PostHogConnector
    ) -> tuple[int, int]:
        """PostHog pages HogQL with ``limit``: the busiest person's events, whole."""
        analytics = simulator.analytics
        person = max(analytics.persons, key=lambda p: len(analytics.events_of(p)))
        distinct_id = person.distinct_ids[0]
        found = await connector.activity_by_persons([distinct_id], limit=10_000)
        mine = [
            e for e in analytics.events_of(person) if e["distinct_id"] == distinct_id
        ]
        return len(found[distinct_id].events), len(mine)


HARNESS = PostHogHarness()
