"""What the conformance suite needs to know about one connector and its
simulator. Each connector has a ``harness_<name>.py`` module with a ``HARNESS``
object; ``test_conformance.HARNESSES`` lists them."""

from __future__ import annotations

from typing import Any, Protocol

from starlette.types import ASGIApp

from connectors.base import Connector
from connectors.demo_world import World


class ConnectorHarness(Protocol):
    name: str

    def simulator(self, world: World) -> Any:
        """A fresh simulator over ``world`` with a generous rate limit."""

    def app(self, simulator: Any) -> ASGIApp: ...

    def connector(
        self, simulator: Any, base_url: str, *, valid_auth: bool = True
    ) -> Connector:
        """A connector with tiny retry delays and small pages."""

    def fail_next(self, simulator: Any, status: int, n: int = 1) -> None:
        """Make the next ``n`` requests answer ``status`` (401, 429 or 503)."""

    def requests(self, simulator: Any) -> int:
        """HTTP requests the simulator received so far."""

    def credentials_seen(self, simulator: Any) -> bool:
        """True when the last request carried the expected credentials."""

    def existing_id(self, simulator: Any) -> str: ...

    def deleted_id(self, simulator: Any) -> str: ...

    async def read_long_list(self, simulator: Any, connector: Any) -> tuple[int, int]:
        """Read a list that spans several pages: (items read, items that exist)."""
