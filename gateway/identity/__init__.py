"""Identity links: which upstream record (Shopify customer, Zendesk user,
PostHog person) is which of our customers.

Imports ``gateway.db`` and connectors' canonical models.
"""
