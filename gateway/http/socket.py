"""graphql-transport-ws with the gate in front of every operation, and the
socket's credentials checked for as long as it stays open.

Both GraphQL endpoints use ``GuardedTransportWS`` (the only WebSocket
protocol they speak: the legacy ``graphql-ws`` one is not offered, so nothing
reaches the schema around it). Its view (``gateway.http.guarded``) admits the
caller at ``connection_init``; then:

- every ``subscribe`` is resolved as an HTTP request would be (persisted
  queries, the allowlist mode) and passes the view's ``OperationGate`` (rate
  limit, query limits, mutation rights); a refusal is an ``error`` message
  with the code HTTP would give, and the socket stays open;
- a watcher task per socket sleeps until the credentials' expiry or the next
  re-check, ``RECHECK_SECONDS``, whichever comes first, and reads them again
  (an API key from the database: revocation is a row every replica reads).
  Credentials that no longer authenticate — revoked, expired — end every
  operation and close the socket with ``4403`` (graphql-transport-ws's
  Forbidden, as at ``connection_init``). A new operation re-authenticates
  too, as an HTTP request would. The watcher is cancelled when the socket
  closes;
- every operation runs on a context of its own: fresh loaders and no partial
  errors of another operation. The socket's context keeps what the connection
  owns (the caller, its audit trail); a loader living as long as the socket
  would answer from what it read minutes ago.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextvars import ContextVar
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError
from strawberry.http import GraphQLRequestData
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
)
from strawberry.types.execution import PreExecutionError

from gateway.admission.gate import Operation as GateOperation
from gateway.admission.gate import audit_writes, check_shape
from gateway.auth.authenticate import KEY_MEMORY_SECONDS
from gateway.auth.principal import Principal
from gateway.errors import Refused
from gateway.loaders import Loaders
from gateway.resolvers.context import Context

if TYPE_CHECKING:
    from gateway.http.guarded import GuardedGraphQL

log = logging.getLogger("gateway.socket")

RECHECK_SECONDS = KEY_MEMORY_SECONDS / 2
"""Re-reading at this interval, each read no older than it, a revocation
closes the socket within ``KEY_MEMORY_SECONDS`` (10 s)."""
FORBIDDEN = 4403
EXPIRY_MARGIN = 0.05
"""Seconds after an expiry before checking: the verifiers compare with ``<=``."""

_operation_context: ContextVar[Context | None] = ContextVar(
    "socket_operation_context", default=None
)
"""The context of the operation whose task reads it: set while Strawberry
creates the operation's task, which copies it."""


class GuardedTransportWS(BaseGraphQLTransportWSHandler[Any, None]):
    _watcher: asyncio.Task[None] | None = None
    _connection_context: Context

    @property
    def context(self) -> Context:
        return _operation_context.get() or self._connection_context

    @context.setter
    def context(self, value: Context) -> None:
        self._connection_context = value

    @property
    def principal(self) -> Principal:
        """The caller admitted at ``connection_init``."""
        principal = self._connection_context.principal
        assert principal is not None, "asked before the connection was acknowledged"
        return principal

    @property
    def guarded(self) -> GuardedGraphQL:
        view: GuardedGraphQL = self.view  # type: ignore[assignment]
        return view

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self._watcher is None:
            self._watcher = asyncio.create_task(self._watch())

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if not self.connection_acknowledged:
            await super().handle_subscribe(message)  # closes with 4401
            return
        if not await self._still_valid():
            await self._close_forbidden()
            return
        payload: Any = message.get("payload")
        if not isinstance(payload, dict):
            payload = message["payload"] = {}  # type: ignore[typeddict-item]
        operation = GateOperation(
            payload.get("query"), payload.get("operationName"), payload.get("variables")
        )
        try:
            check_shape(operation, payload.get("extensions"))
            resolved = await self.guarded.resolve(
                GraphQLRequestData(
                    query=payload.get("query"),
                    variables=payload.get("variables"),
                    operation_name=payload.get("operationName"),
                    extensions=payload.get("extensions"),
                    protocol="http",
                )
            )
            operation = GateOperation(
                resolved.query, resolved.operation_name, resolved.variables
            )
            [analysis] = await self.guarded.gate.admit(
                self.principal, [operation], "WS"
            )
        except Refused as refusal:
            await self._refuse_operation(message["id"], refusal)
            return
        audit_writes(self.context.audit, analysis, resolved.variables)
        payload["query"] = resolved.query
        own = replace(
            self._connection_context, loaders=Loaders(self.guarded.services), errors=[]
        )
        token = _operation_context.set(own)
        try:
            await super().handle_subscribe(message)
        finally:
            _operation_context.reset(token)

    async def _refuse_operation(self, operation_id: str, refusal: Refused) -> None:
        """The refusal HTTP would give, as this operation's ``error``."""
        extensions: dict[str, object] = {"code": refusal.code, **refusal.extensions}
        if "Retry-After" in refusal.headers:
            extensions["retryAfter"] = int(refusal.headers["Retry-After"])
        error = GraphQLError(refusal.message, extensions=extensions)
        await self.send_message(
            {"id": operation_id, "type": "error", "payload": [error.formatted]}
        )

    async def send_message(self, message: Message) -> None:
        """The last step of every message: errors of results streamed or
        answered here (a variable graphql-core could not coerce) lose their
        suggestions in production, as over HTTP."""
        payload: Any = message.get("payload")
        errors = payload if message["type"] == "error" else None
        if message["type"] == "next" and isinstance(payload, dict):
            errors = payload.get("errors")
        for error in errors or ():
            if isinstance(error, dict) and isinstance(error.get("message"), str):
                error["message"] = self.guarded.gate.message(error["message"])
        if message["type"] == "next":  # audited (StreamAudit): as over HTTP,
            audit = self.context.services.audit  # the audit's writes set the pace
            if audit.full:
                await audit.room()
        await super().send_message(message)

    async def handle_task_exception(self, error: Exception) -> None:
        """A socket closed while a result was on its way — the client left,
        or this replica is stopping and closed it with 1012 — is no failure:
        one line, not strawberry's traceback."""
        if isinstance(error, WebSocketDisconnected):
            log.info("a socket closed before a subscription's result was sent")
            return
        await super().handle_task_exception(error)

    async def _handle_pre_execution_error(
        self, operation: Operation[Any, None], result: PreExecutionError
    ) -> None:
        """Validation errors get their codes, as over HTTP."""
        result.errors = self.guarded.gate.present(result.errors)
        await super()._handle_pre_execution_error(operation, result)

    async def _still_valid(self, max_age: float = KEY_MEMORY_SECONDS) -> bool:
        credentials = self.guarded.credentials(
            self.context.request, self.context.connection_params
        )
        return await self.guarded.identify(credentials, max_age=max_age) is not None

    async def _watch(self) -> None:
        while True:
            delay = RECHECK_SECONDS
            expires = self.principal.expires_at
            if expires is not None:
                left = (expires - datetime.now(UTC)).total_seconds() + EXPIRY_MARGIN
                delay = min(delay, max(left, 0.0))
            await asyncio.sleep(delay)
            try:
                valid = await self._still_valid(max_age=RECHECK_SECONDS)
            except Exception as exc:  # the database is away: fail closed
                log.warning("socket re-check failed: %s", type(exc).__name__)
                await self._close(1011, "Credentials could not be checked")
                return
            if not valid:
                await self._close_forbidden()
                return

    async def _close_forbidden(self) -> None:
        await self._close(FORBIDDEN, "Forbidden")

    async def _close(self, code: int, reason: str) -> None:
        """End every operation first: nothing more is sent on this socket."""
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
        with contextlib.suppress(RuntimeError):  # the client closed meanwhile
            await self.websocket.close(code=code, reason=reason)

    async def shutdown(self) -> None:
        watcher = self._watcher
        if watcher is not None and watcher is not asyncio.current_task():
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await super().shutdown()
