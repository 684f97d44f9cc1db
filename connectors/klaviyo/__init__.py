"""Klaviyo: the profiles, lists and list subscriptions an audience sync needs."""

from connectors.klaviyo.client import KlaviyoConnector

__all__ = ["KlaviyoConnector"]
