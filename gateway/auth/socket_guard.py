"""The HTTP view's checks, for operations sent over WebSocket.

graphql-transport-ws runs queries and mutations as well as subscriptions, and
never passes through ``GraphQLApp.execute_operation``: ``SocketGuard``, a schema
extension, applies the same query limits and mutation permissions to them,
before execution (``strawberry.Schema(..., extensions=[SocketGuard])``) and
notes each mutation in the audit trail as the HTTP view does, and
``RateLimitedTransportWS``, the view's protocol handler, takes a rate-limit
token from the caller's bucket for every operation a socket starts, answering
an ``error`` message with code ``RATE_LIMITED`` when none is left.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    SubscribeMessage,
)

from gateway.auth.audit import AuditTrail
from gateway.auth.policy import Role, may_run_mutation
from gateway.auth.ratelimit import retry_after
from gateway.http_answers import customer_argument
from gateway.limits import LimitExceeded, Limits, analyse


class SocketGuard(SchemaExtension):
    """List it after ``ValidationCache``, which overwrites validation errors:
    a refusal is added to them, so Strawberry answers it instead of executing."""

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        request = getattr(execution.context, "request", None)
        if isinstance(request, WebSocket) and execution.query is not None:
            try:
                self._check(execution.context, execution.query)
            except GraphQLError as refusal:
                execution.pre_execution_errors = [
                    *(execution.pre_execution_errors or []),
                    refusal,
                ]
        yield

    def _check(self, context: object, query: str) -> None:
        limits = Limits.from_settings(context.services.settings)  # type: ignore[attr-defined]
        try:
            analysis = analyse(
                self.execution_context.schema._schema,
                query,
                self.execution_context.operation_name,
                self.execution_context.variables,
                limits,
            )
        except LimitExceeded as exc:
            raise GraphQLError(exc.message, extensions={"code": exc.code}) from exc
        if not analysis.is_mutation:
            return
        principal = getattr(context, "principal", None)
        role = principal.role if principal is not None else Role.ANALYST
        for node in analysis.root_fields:
            if not may_run_mutation(role, node.name.value):
                raise GraphQLError(
                    f"The {role} role may not run {node.name.value}.",
                    extensions={"code": "FORBIDDEN"},
                )
        trail: AuditTrail = context.audit  # type: ignore[attr-defined]
        for node in analysis.root_fields:
            name, variables = node.name.value, self.execution_context.variables
            trail.wrote(customer_argument(node, variables), name)


class RateLimitedTransportWS(BaseGraphQLTransportWSHandler[Any, None]):
    """graphql-transport-ws with the HTTP rate limit on every ``subscribe``."""

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        principal = getattr(self.context, "principal", None)
        if self.connection_acknowledged and principal is not None:
            limiter = self.context.services.rate_limiter
            wait = await limiter.take(principal.rate_key)
            if wait:
                refusal = GraphQLError(
                    "Too many requests; retry later.",
                    extensions={
                        "code": "RATE_LIMITED",
                        "retryAfter": int(retry_after(wait)),
                    },
                )
                await self.send_message(
                    {
                        "id": message["id"],
                        "type": "error",
                        "payload": [refusal.formatted],
                    }
                )
                return
        await super().handle_subscribe(message)
