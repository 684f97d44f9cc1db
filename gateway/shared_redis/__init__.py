"""Redis as every replica shares it: the one client of the process — of one
server, a Redis Cluster or a Sentinel-watched master (``client.py``) — and
the breaker in front of it (``breaker.py``), so a dead or hung Redis costs one
short timeout, not one per caller and per request. ``channels.py`` is the
change feed's pub/sub (sharded on a cluster).

Every Redis user goes through ``SharedRedis.breaker.run`` and answers its own
degraded behaviour while Redis is skipped: the caches read and write an
in-process tier, the rate limits count in process, the change feed delivers
locally. Key names hold no personal data: an identifier that may be one (an
email used as a PostHog distinct id, a JWT subject, a client address) is
replaced by its keyed hash (``pseudonyms.py``). Imported by ``gateway.cache``,
``gateway.auth``, ``gateway.changes`` and ``gateway.runtime``; imports only the
leaves (errors, metrics, redis_address, sealing, settings).
"""
