"""Which upstreams the demo has: each one on its own, so one missing leaves the
demo without that source, not without a demo.

An upstream the operator pointed somewhere (``CG_SHOPIFY_BASE_URL``,
``CG_ZENDESK_BASE_URL``, ``CG_POSTHOG_HOST``) is used as configured if
something listens at its address; else its simulator is started on loopback
(what the operator set explicitly, a token say, is kept).
An address where nothing listens, or a simulator that does not start, is one
log line naming the upstream and why; the gateway then runs without that
connector, so its fields answer null and everything else works.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from connectors.demo_world import World
from connectors.simulator_server import serve_app
from gateway.demo.simulation import SIMULATORS, budget_settings, upstream_settings
from gateway.errors import describe
from gateway.settings import Settings

log = logging.getLogger("gateway.demo")

CONFIGURED_BY = {
    "shopify": "shopify_base_url",
    "zendesk": "zendesk_base_url",
    "posthog": "posthog_host",
    "klaviyo": "klaviyo_url",
}
"""The setting that points the gateway at an upstream of the operator's."""
WITHOUT = {
    "shopify": {"shopify_access_token": None},
    "zendesk": {"zendesk_api_token": None},
    "posthog": {"posthog_api_key": None},
    "klaviyo": {"klaviyo_api_key": None},
}
"""What leaves a connector unbuilt (``gateway.runtime.upstreams``)."""
CONNECT_TIMEOUT = 2.0


@dataclass(slots=True)
class DemoUpstreams:
    settings: Settings
    """The demo's settings, pointed at the upstreams it has."""
    urls: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    """Upstream → why it is missing, as logged."""


async def open_upstreams(
    base: Settings, world: World, latency: float, stack: AsyncExitStack
) -> DemoUpstreams:
    """Start or check each upstream; simulators stop with ``stack``. The demo
    runs on one machine, so outbound webhooks may go to a receiver on it
    (``CG_OUTBOUND_ALLOW_PRIVATE_TARGETS``; production refuses them) unless
    the operator said otherwise."""
    local = {"outbound_allow_private_targets": True}
    upstreams = DemoUpstreams(
        base.model_copy(
            update={k: v for k, v in local.items() if k not in base.model_fields_set}
        )
    )
    for source, build in SIMULATORS.items():
        configured = CONFIGURED_BY[source]
        if configured in base.model_fields_set:
            url = str(getattr(base, configured))
            reason = await _unreachable(url)
        else:
            try:
                simulator = build(world, latency)
                url = await stack.enter_async_context(serve_app(simulator.app))
            except Exception as exc:  # any failure to start: the demo goes on
                reason = f"its simulator did not start ({describe(exc)})"
            else:
                reason = None
                simulated = {
                    **upstream_settings(source, url),
                    **budget_settings(simulator),
                }
                upstreams.settings = upstreams.settings.model_copy(
                    update={
                        k: v
                        for k, v in simulated.items()
                        if k not in base.model_fields_set
                    }
                )
        if reason is None:
            upstreams.urls[source] = url
            continue
        log.warning("demo: %s is missing, %s; its fields answer null", source, reason)
        upstreams.missing[source] = reason
        upstreams.settings = upstreams.settings.model_copy(update=WITHOUT[source])
    return upstreams


async def _unreachable(url: str) -> str | None:
    """Why nothing answers at ``url``'s address, or ``None`` when something does."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), CONNECT_TIMEOUT
        )
    except (OSError, TimeoutError) as exc:
        return f"nothing listens at {host}:{port} ({type(exc).__name__})"
    writer.close()
    await writer.wait_closed()
    return None
