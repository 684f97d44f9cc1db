"""The caches: upstream results read through Redis (or an in-process LRU),
writes deferred to the end of a request, whole customer responses (and the
ones a worker holds in its memory, checked against their versions), and the
eviction that follows every change of a customer.

Imported by ``gateway.loaders`` and ``gateway.runtime``; imports connectors'
canonical models, ``gateway.changes.bus`` (to listen), ``gateway.db`` and
``gateway.shared_redis`` (the process's Redis, its breaker, and the
pseudonyms that name keys: no upstream id, an email for PostHog, in Redis).
"""
