"""The connectors this deployment is configured for, built from settings.

An upstream whose settings are missing is simply absent (``None``): its fields
answer ``null`` with no error, so a store without a help desk still works.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.klaviyo.client import KlaviyoConnector
from connectors.posthog.client import PostHogConnector
from connectors.scope import CallGuard
from connectors.shopify.client import ShopifyConnector
from connectors.upstream_http import RequestObserver
from connectors.zendesk.client import ZendeskConnector
from gateway.settings import Settings

Configured = ShopifyConnector | ZendeskConnector | PostHogConnector | KlaviyoConnector


@dataclass(slots=True)
class Upstreams:
    shopify: ShopifyConnector | None = None
    zendesk: ZendeskConnector | None = None
    posthog: PostHogConnector | None = None
    klaviyo: KlaviyoConnector | None = None
    """Not a customer source: where audiences are sent (``gateway.audiences``)."""

    def configured(self) -> list[Configured]:
        found = (self.shopify, self.zendesk, self.posthog, self.klaviyo)
        return [c for c in found if c is not None]

    def guard_with(self, guard: CallGuard) -> None:
        """Every call of every connector admitted by ``guard``."""
        for connector in self.configured():
            connector.http.guard = guard

    async def aclose(self) -> None:
        for connector in self.configured():
            await connector.aclose()


def _secret(value: object) -> str | None:
    getter = getattr(value, "get_secret_value", None)
    return getter() if getter else None


def build_upstreams(
    settings: Settings, observer: RequestObserver | None = None
) -> Upstreams:
    upstreams = Upstreams()
    shopify_token = _secret(settings.shopify_access_token)
    shopify_url = settings.shopify_base_url or (
        f"https://{settings.shopify_shop}.myshopify.com"
        if settings.shopify_shop
        else None
    )
    if shopify_url and shopify_token:
        upstreams.shopify = ShopifyConnector(
            shopify_url,
            shopify_token,
            api_version=settings.shopify_api_version,
            order_cap=settings.shopify_order_history,
            observer=observer,
        )
    zendesk_url = settings.zendesk_base_url or (
        f"https://{settings.zendesk_subdomain}.zendesk.com"
        if settings.zendesk_subdomain
        else None
    )
    zendesk_token = _secret(settings.zendesk_api_token)
    if zendesk_url and zendesk_token:
        upstreams.zendesk = ZendeskConnector(
            zendesk_url,
            email=settings.zendesk_email,
            api_token=zendesk_token,
            observer=observer,
        )
    posthog_key = _secret(settings.posthog_api_key)
    if settings.posthog_host and settings.posthog_project_id and posthog_key:
        upstreams.posthog = PostHogConnector(
            settings.posthog_host,
            settings.posthog_project_id,
            posthog_key,
            observer=observer,
        )
    klaviyo_key = _secret(settings.klaviyo_api_key)
    if klaviyo_key:
        upstreams.klaviyo = KlaviyoConnector(
            settings.klaviyo_url, klaviyo_key, observer=observer
        )
    for connector in upstreams.configured():
        # With the cache, its reads are shared per key, fenced by its locks
        # (gateway.cache.read_through); without it, identical reads in flight
        # are (connectors.upstream_http) — unless the loaders are off too:
        # the baseline that shares nothing.
        connector.http.share_reads = settings.loaders_enabled and not (
            settings.cache_enabled
        )
    return upstreams
