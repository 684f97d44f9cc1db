"""The Zendesk connector and simulator, as the conformance suite drives them."""

from __future__ import annotations

import base64

from starlette.types import ASGIApp

from connectors.demo_world import World
from connectors.retry import RetryPolicy
from connectors.zendesk.client import ZendeskConnector
from connectors.zendesk.simulator.data import USER_ID_BASE
from connectors.zendesk.simulator.server import ZendeskSimulator

EMAIL = "agent@northwind.example"
TOKEN = "zd-conformance"
RETRY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)


class ZendeskHarness:
    name = "zendesk"

    def simulator(self, world: World) -> ZendeskSimulator:
        return ZendeskSimulator(
            world, email=EMAIL, api_token=TOKEN, rate_limit_per_minute=100_000
        )

    def app(self, simulator: ZendeskSimulator) -> ASGIApp:
        return simulator.app

    def connector(
        self, simulator: ZendeskSimulator, base_url: str, *, valid_auth: bool = True
    ) -> ZendeskConnector:
        token = TOKEN if valid_auth else "revoked"
        return ZendeskConnector(
            base_url, email=EMAIL, api_token=token, page_size=3, retry=RETRY
        )

    def fail_next(self, simulator: ZendeskSimulator, status: int, n: int = 1) -> None:
        if status == 429:
            simulator.force_rate_limit(n, retry_after=0)
        else:
            simulator.fail_next(n, status=status)

    def requests(self, simulator: ZendeskSimulator) -> int:
        return simulator.requests.total

    def credentials_seen(self, simulator: ZendeskSimulator) -> bool:
        raw = base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()
        return simulator.last_headers.get("authorization") == f"Basic {raw}"

    def existing_id(self, simulator: ZendeskSimulator) -> str:
        return str(min(simulator.desk.users))

    def deleted_id(self, simulator: ZendeskSimulator) -> str:
        """A world customer who has no Zendesk user (never wrote in, or erased)."""
        index = next(
            i for i in range(10_000) if USER_ID_BASE + i not in simulator.desk.users
        )
        return str(USER_ID_BASE + index)

    async def read_long_list(
        self, simulator: ZendeskSimulator, connector: ZendeskConnector
    ) -> tuple[int, int]:
        """Every requester's tickets: search pages of 3 until ``next_page`` ends."""
        users = [str(u) for u in simulator.desk.users]
        tickets = await connector.tickets_by_requesters(users)
        return sum(len(t) for t in tickets.values()), len(simulator.desk.tickets)


HARNESS = ZendeskHarness()
