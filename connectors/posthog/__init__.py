"""PostHog: persons and their product-analytics events."""

from connectors.posthog.client import PostHogConnector

__all__ = ["PostHogConnector"]
