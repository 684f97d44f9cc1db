"""HTTP and WebSocket transport: the GraphQL endpoints (``/graphql`` and
``/embed/graphql``, both a ``guarded.GuardedGraphQL``), the socket protocol with
its credential watcher, the body ceiling, one ``Authorization`` field per
request, GraphiQL and the embed page.

Imported only by ``gateway.app``, the composition root. It reaches the
domain through ``gateway.schema`` and ``gateway.admission``, never the
database or the connectors directly.
"""
