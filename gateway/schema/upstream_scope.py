"""Every operation's upstream calls within one deadline, and the response
saying which sources answered from their last good value.

Each query or mutation runs inside a ``connectors.scope.call_scope`` of
``CG_READ_DEADLINE_SECONDS`` from the operation's start, at interactive
priority — over HTTP, WebSocket and ``/embed/graphql`` alike, since they all
execute through the schema. A subscription is not bounded as a whole: each
read it makes opens its own scope (``gateway.resolvers.timeline_live``).

A source that answered stale (``gateway.cache.read_through``) is listed in
the response's extensions, once per source with its oldest value's fetch
time::

    "extensions": {"stale": [{"source": "shopify",
                              "fetchedAt": "2025-06-01T12:00:03+00:00"}]}

Use it as ``extensions=[UpstreamScope]``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from connectors.scope import CallScope, Priority, call_scope
from gateway.resolvers.context import Context


class UpstreamScope(SchemaExtension):
    _started = 0.0
    _scope: CallScope | None = None

    def on_operation(self) -> Iterator[None]:
        self._started = time.monotonic()
        yield

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        if (
            not isinstance(context, Context)
            or self.execution_context.operation_type is OperationType.SUBSCRIPTION
        ):
            yield
            return
        deadline = context.services.settings.read_deadline_seconds
        left = deadline - (time.monotonic() - self._started)
        with call_scope(left, Priority.INTERACTIVE) as scope:
            self._scope = scope
            yield

    def get_results(self) -> dict[str, object]:
        if self._scope is None or not self._scope.stale:
            return {}
        oldest: dict[str, float] = {}
        for read in self._scope.stale:
            oldest[read.source] = min(read.fetched_at, oldest.get(read.source, 1e18))
        return {
            "stale": [
                {"source": source, "fetchedAt": _iso(at)}
                for source, at in sorted(oldest.items())
            ]
        }


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")
