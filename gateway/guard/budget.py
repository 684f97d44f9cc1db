"""Each upstream's budget: the share of the vendor's rate limit this gateway
may spend, as the shape of a token bucket, in the unit the vendor counts.

- Shopify counts GraphQL cost points in a leaky bucket (a restore rate and a
  bucket size): a token bucket of ``share`` × both never asks more of it.
- Zendesk counts requests per minute, PostHog HogQL queries per hour, in
  windows: a quarter of the share may come at once (``BURST``), the rest
  refills over the window, so that no window ever holds more than ``share``
  × the limit.
- Zendesk's search has a limit of its own beside the account's: a budget of
  its own, ``zendesk.search``, which a search call spends together with
  ``zendesk``'s (``<upstream>.<limit>``: ``UpstreamHTTP.request(limit=)``).
- Klaviyo limits each endpoint on its own, in a burst (1 s) and a steady
  (1 min) fixed window (``connectors.klaviyo.limits``), and has no account
  limit: one budget per endpoint, ``klaviyo.<endpoint>``, whose bucket holds
  at most the share of the burst and refills so that no minute holds more
  than the share of the steady limit.

Windows and restore rates are in the vendors' seconds:
``CG_UPSTREAM_CLOCK_FACTOR`` of them pass per real second (1, except in a
time-compressed soak).

The vendors' figures are settings (``CG_SHOPIFY_LIMIT_*``,
``CG_ZENDESK_LIMIT_PER_MINUTE``, ``CG_ZENDESK_SEARCH_LIMIT_PER_MINUTE``,
``CG_POSTHOG_LIMIT_QUERIES_PER_HOUR``) with
their sources beside them in ``gateway.settings``.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.klaviyo.limits import ENDPOINTS as KLAVIYO_ENDPOINTS
from gateway.settings import Settings

BURST = 0.25
"""Of a windowed budget, the part that may be spent at once."""


@dataclass(frozen=True, slots=True)
class Budget:
    rate: float
    """Units refilled per second."""
    capacity: float
    """Units held at most: the largest burst."""

    @classmethod
    def leaky(cls, restore_rate: float, size: float, share: float) -> Budget:
        return cls(restore_rate * share, size * share)

    @classmethod
    def windowed(cls, limit: float, window: float, share: float) -> Budget:
        """At most ``share`` × ``limit`` in any ``window`` seconds."""
        spend = limit * share
        return cls(spend * (1 - BURST) / window, max(1.0, spend * BURST))

    @classmethod
    def tiered(cls, burst: float, steady: float, share: float) -> Budget:
        """At most ``share`` × ``burst`` at once and ``share`` × ``steady`` in
        any minute: the bucket holds the burst (or a quarter of the minute,
        when smaller) and refills the rest of the minute's share over it."""
        spend = steady * share
        capacity = max(1.0, min(burst * share, spend * BURST))
        return cls(max(spend - capacity, 1.0) / 60.0, capacity)


def upstream_of(budget: str) -> str:
    """The upstream a budget belongs to (``zendesk.search`` → ``zendesk``)."""
    return budget.partition(".")[0]


def budgets(settings: Settings) -> dict[str, Budget]:
    """The budget of each upstream, by connector name, and of each endpoint
    with a limit of its own, by ``<connector>.<limit>``."""
    share = settings.upstream_budget_share
    speed = settings.upstream_clock_factor
    return {
        "shopify": Budget.leaky(
            settings.shopify_limit_points_per_second * speed,
            settings.shopify_limit_bucket_points,
            share,
        ),
        "zendesk": Budget.windowed(
            settings.zendesk_limit_per_minute, 60.0 / speed, share
        ),
        "zendesk.search": Budget.windowed(
            settings.zendesk_search_limit_per_minute, 60.0 / speed, share
        ),
        "posthog": Budget.windowed(
            settings.posthog_limit_queries_per_hour, 3600.0 / speed, share
        ),
        **{
            f"klaviyo.{endpoint}": Budget.tiered(limit.burst, limit.steady, share)
            for endpoint, limit in KLAVIYO_ENDPOINTS.items()
        },
    }
