"""Zendesk Support: users, tickets, comments and satisfaction ratings."""

from connectors.zendesk.client import ZendeskConnector

__all__ = ["ZendeskConnector"]
