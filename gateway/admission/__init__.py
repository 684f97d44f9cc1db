"""What an operation must pass before anything executes, whatever carried it
(HTTP, WebSocket, the embed endpoint): the gate (shape, rate limit, query
limits on coerced variables, mutation rights), the limits and the one walk
that measures them, persisted queries, and the answers given instead of an
execution (a refusal, a cached response).

Imported by ``gateway.http``; imports ``gateway.auth`` and nothing above it.
"""
