"""A Shopify Admin GraphQL API on loopback for tests and the demo: the schema
subset, its resolvers, query cost, search syntax and webhook deliveries.
The client never imports it.
"""
