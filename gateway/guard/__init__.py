"""The policy over calls to upstreams: a budget per upstream shared by every
replica (a token bucket in Redis, in process without it) spent by priority, a
circuit breaker per upstream, and the deadlines of interactive and background
work. The mechanism they drive lives in ``connectors`` (``connectors.scope``,
``connectors.breaker``, ``connectors.upstream_http.UpstreamHTTP``).

``bucket.py``'s token bucket also meters callers (``gateway.auth.ratelimit``).
Imported by ``gateway.auth`` and ``gateway.runtime``; imports ``connectors``,
``gateway.metrics`` and ``gateway.settings``.
"""
