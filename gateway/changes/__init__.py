"""The change bus: what webhooks, ingest and mutations announce about a
customer, the feed live subscriptions listen to across replicas, and the
local history of changes people made.

Anything that writes publishes here; the cache and subscriptions listen.
Imports only ``gateway.db``, ``gateway.errors`` and ``gateway.shared_redis``
(the feed's Redis and its breaker).
"""
