"""What Shopify lets this gateway read, checked when the services open.

``ShopifyConnector.check_scopes`` asks ``currentAppInstallation { accessScopes
{ handle } }``. A scope the gateway needs and lacks is one warning line at
start-up and the ``shopify`` detail of ``/readyz``, each saying what it hides;
from then on the connector does not ask for the fields it cannot read, which
answer null with ``UPSTREAM_FORBIDDEN`` while the rest of a customer answers.
What the gateway computes from orders is flagged too (``FLAGGED``): without
``read_all_orders`` it sees the last 60 days only, which is not an error but a
different number. A check that could not run (Shopify unreachable at start-up)
is tried again in the background when ``/readyz`` is asked, at most once every
``RECHECK_SECONDS``: a readiness probe never waits on Shopify.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time

from connectors.errors import ConnectorError
from connectors.shopify.client import ShopifyConnector
from connectors.shopify.scopes import ScopeCheck

log = logging.getLogger("gateway.runtime.shopify_scopes")

FLAGGED: dict[str, str] = {
    "read_all_orders": "lifetimeValue, rfm, traits and the segments built on"
    " them count only the orders of the last 60 days",
    "read_products": "favourite categories count every line as Uncategorised",
    "read_returns": "order facts count no order as returned",
}
"""What the gateway's own figures (``gateway.insights``) miss without a scope."""
CHECK_SECONDS = 5.0
"""How long start-up waits for the check."""
RECHECK_SECONDS = 60.0


class ShopifyScopes:
    def __init__(self, connector: ShopifyConnector) -> None:
        self.connector = connector
        self.check: ScopeCheck | None = None
        """``None`` until a check succeeded."""
        self._tried = -math.inf
        self._again: asyncio.Task[None] | None = None

    async def aclose(self) -> None:
        if self._again is not None:
            self._again.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._again

    async def refresh(self) -> None:
        """Ask Shopify; log one line when a needed scope is missing."""
        self._tried = time.monotonic()
        try:
            self.check = await asyncio.wait_for(
                self.connector.check_scopes(), CHECK_SECONDS
            )
        except (ConnectorError, TimeoutError) as exc:
            code = getattr(exc, "code", "timeout")
            log.warning(
                "shopify access scopes not checked (%s): tried again later", code
            )
            return
        if self.check.missing:
            log.warning("shopify access scopes missing: %s", "; ".join(self.problems()))

    def problems(self) -> list[str]:
        """What each missing scope hides, then what it makes the insights miss."""
        return (self.check.hidden() if self.check else []) + self.flagged()

    def flagged(self) -> list[str]:
        missing = self.check.missing if self.check else ()
        return [f"{FLAGGED[s]}: {s} missing" for s in missing if s in FLAGGED]

    def detail(self) -> dict[str, object]:
        """``/readyz``'s ``shopify`` entry; while unknown, a check runs again
        in the background (its answer shows on a later probe)."""
        if (
            self.check is None
            and (self._again is None or self._again.done())
            and time.monotonic() - self._tried >= RECHECK_SECONDS
        ):
            self._again = asyncio.create_task(self.refresh())
        if self.check is None:
            return {"scopes": "unknown"}
        missing = self.check.missing
        return {
            "scopes": "missing" if missing else "ok",
            "missingScopes": list(missing),
            "hidden": self.check.hidden(),
            "flagged": self.flagged(),
        }
