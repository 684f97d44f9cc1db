"""What both GraphQL endpoints share: Strawberry's ASGI view with the caller
admitted (``gateway.auth.admission``) and every operation passed through the
endpoint's ``OperationGate`` before execution, over HTTP and WebSocket alike.

An endpoint says only where its credentials are (``credentials``) and who
they name (``identify``); ``/graphql`` and ``/embed/graphql`` differ in
nothing else here, so a rule added to the gate holds on every transport.
Every refusal is JSON ``{"errors": [...]}`` with ``extensions.code`` (the
ones Strawberry raises itself too: a body that is not JSON, or JSON that is
not a request object, is 400 ``BAD_REQUEST``), never a stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import strawberry
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from gateway.admission.answers import check_media_type
from gateway.admission.gate import Operation, OperationGate
from gateway.admission.limits import Analysis
from gateway.auth.admission import REJECTED, UNAUTHENTICATED, admit, client_address
from gateway.auth.authenticate import KEY_MEMORY_SECONDS
from gateway.auth.principal import Principal
from gateway.errors import Refused
from gateway.http.repeated_parts import (
    MESSAGE,
    TOO_DEEP,
    RepeatedPart,
    Unreadable,
    repeats_a_parameter,
    repeats_a_part,
    repeats_in_message,
)
from gateway.http.socket import GuardedTransportWS
from gateway.resolvers.context import Context
from gateway.runtime.services import Services

ADMITTED = "customer_graph.admitted"
"""The scope key of an ``Admitted``: set by the server side only (a client
cannot reach the ASGI scope)."""


@dataclass(frozen=True, slots=True)
class Admitted:
    """A request's caller and its one operation, admitted and resolved
    before the full path saw it (``GraphQLApp.answer_held``), and, when the
    operation was gated there too, what that gave: its token is taken, so
    ``admit_http`` takes none again."""

    principal: Principal
    resolved: GraphQLRequestData
    """The operation as ``resolve`` gave it (a persisted query looked up
    once)."""
    gated: tuple[Analysis | None, list[bytes | None] | None] | None = None
    """The analysis and the values read with the token
    (``OperationGate.admit_reading``)."""


_STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "REQUEST_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


class GuardedGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = GuardedTransportWS
    challenge = "Bearer"
    """``WWW-Authenticate`` of a 401."""
    unauthenticated = UNAUTHENTICATED
    """A 401's message when no credentials were sent…"""
    rejected = REJECTED
    """…and when those sent were not accepted."""

    def __init__(
        self,
        schema: strawberry.Schema,
        services: Services,
        gate: OperationGate,
        *,
        graphql_ide: bool = False,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphql_ide else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.services = services
        self.gate = gate

    def credentials(
        self, connection: Request | WebSocket, params: Mapping[str, object] | None
    ) -> str | None:
        """Where this endpoint's callers put their credentials (``params``:
        a WebSocket's ``connection_init`` payload)."""
        raise NotImplementedError

    async def identify(
        self, credentials: str | None, *, max_age: float = KEY_MEMORY_SECONDS
    ) -> Principal | None:
        """Who ``credentials`` name now; ``None`` for nobody."""
        raise NotImplementedError

    def bind(self, context: Context, principal: Principal) -> None:
        """Put the admitted caller on the context resolvers read."""
        context.principal = principal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if scope["type"] == "http":
                check_media_type(Request(scope), self.services.settings.max_body_bytes)
            await super().__call__(scope, receive, send)
        except Refused as refused:
            await refused.response()(scope, receive, send)

    async def run(
        self, request: Any, context: Any = UNSET, root_value: Any = UNSET
    ) -> Any:
        try:
            return await super().run(request, context, root_value)
        except HTTPException as exc:  # Strawberry's own refusals, coded like ours
            code = _STATUS_CODES.get(exc.status_code, "BAD_REQUEST")
            # its 405 (HEAD, OPTIONS) says what is allowed, as the router's do
            headers = {"Allow": "GET, POST"} if exc.status_code == 405 else None
            raise Refused(exc.status_code, code, exc.reason, headers=headers) from exc

    def decode_json(self, data: str | bytes) -> object:
        """orjson: a number past a double (thousands of digits) is its
        ``JSONDecodeError``, which Strawberry answers 400, not a 500. So is a
        socket's message naming a member or a part twice, or too deep to
        check (``repeated_parts``): the socket closes (4400). HTTP bodies
        are ``parse_json``'s."""
        value = orjson.loads(data)
        try:
            repeated = repeats_in_message(data, value)
        except Unreadable:
            repeated = True
        if repeated:
            raise RepeatedPart(MESSAGE, str(data), 0)
        return value

    def parse_json(self, data: str | bytes) -> Any:  # Strawberry's signature
        """An HTTP body's JSON (or a GET parameter's): Strawberry's, but an
        operation naming one of its parts twice, or a body too deep to check,
        is refused in words of its own (``repeated_parts``)."""
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            return super().parse_json(data)  # Strawberry's refusal, a 400
        try:
            repeated = repeats_a_part(data, value)
        except Unreadable:
            raise Refused(400, "BAD_REQUEST", TOO_DEEP) from None
        if repeated:
            raise Refused(400, "BAD_REQUEST", MESSAGE)
        return value

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """A POST body is an object, or a batch: a non-empty array of objects
        (Strawberry reads a field of anything else, a 500). Decoded twice,
        once here: orjson takes ~1 ms for the largest body allowed. A GET
        naming a part twice is refused (``repeated_parts``)."""
        if request.method == "GET" and repeats_a_parameter(request.query_params):
            raise Refused(400, "BAD_REQUEST", MESSAGE)
        if request.method == "POST":
            try:  # checked by Strawberry's reading, through parse_json, below
                value = orjson.loads(await request.get_body())
            except orjson.JSONDecodeError:
                return await super().parse_http_body(request)  # refused there
            batch = isinstance(value, list) and value
            if not isinstance(value, dict) and not (
                batch and all(isinstance(item, dict) for item in value)
            ):
                raise Refused(
                    400,
                    "BAD_REQUEST",
                    "Expected a JSON object (a batch: a non-empty array of objects).",
                )
        return await super().parse_http_body(request)

    async def admit_http(
        self,
        request: Request,
        items: list[GraphQLRequestData],
        context: Context,
    ) -> tuple[
        list[tuple[GraphQLRequestData, Analysis | None]], list[bytes | None] | None
    ]:
        """The caller, then each operation of an HTTP request (``resolve``d),
        through the gate; with each its analysis. And for one operation, the
        values at ``reading``'s keys, read with its rate-limit token
        (``None``: not read)."""
        admitted: Admitted | None = request.scope.pop(ADMITTED, None)
        if admitted is None or len(items) != 1:
            principal = await self._admit(request, None)
            resolved = [await self.resolve(item) for item in items]
        else:  # by the lane, from the same body parsed the same way
            principal, resolved = admitted.principal, [admitted.resolved]
        self.bind(context, principal)
        if admitted is not None and admitted.gated is not None and len(items) == 1:
            analysis, values = admitted.gated
            return [(resolved[0], analysis)], values
        operations = [
            Operation(item.query, item.operation_name, item.variables)
            for item in resolved
        ]
        if len(operations) == 1:
            keys = self.reading(resolved[0], principal)
            analysis, values = await self.gate.admit_reading(
                principal, operations[0], request.method, keys
            )
            return [(resolved[0], analysis)], values
        analyses = await self.gate.admit(principal, operations, request.method)
        return list(zip(resolved, analyses, strict=True)), None

    def reading(self, item: GraphQLRequestData, principal: Principal) -> list[str]:
        """Cache keys to read with an operation's rate-limit token, before it
        is checked: ``/graphql``'s stored answer of a request seen before."""
        return []

    async def resolve(self, item: GraphQLRequestData) -> GraphQLRequestData:
        """The operation to run (``/graphql`` resolves persisted queries)."""
        return item

    def presented(
        self, connection: Request | WebSocket, params: Mapping[str, object] | None
    ) -> str | None:
        """What the caller sent, scheme and token, as an ``Authorization``
        value: how a refusal is worded (``admission.admit``)."""
        return self.credentials(connection, params)

    async def _admit(
        self, connection: Request | WebSocket, params: Mapping[str, object] | None
    ) -> Principal:
        credentials = self.credentials(connection, params)
        return await admit(
            lambda: self.identify(credentials),
            self.services.login_failures,
            client_address(connection),
            credentials=self.presented(connection, params),
            unauthenticated=self.unauthenticated,
            rejected=self.rejected,
            challenge=self.challenge,
        )

    async def on_ws_connect(
        self, context: Context
    ) -> UnsetType | dict[str, object] | None:
        """Credentials checked at ``connection_init``; refused: closed, 4403."""
        try:
            principal = await self._admit(context.request, context.connection_params)
        except Refused as refusal:
            raise ConnectionRejectionError({"code": refusal.code}) from refusal
        self.bind(context, principal)
        unset: UnsetType = UNSET
        return unset

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        result.errors = self.gate.present(result.errors)
        response = await super().process_result(request, result)
        errors = response.get("errors") or []
        if response.get("data") is None and errors and all(map(_request_error, errors)):
            # Nothing was executed, so the answer has no data entry (GraphQL,
            # "Response"), where an execution that failed has `data: null`.
            response.pop("data", None)
        return response

    def encode_json(self, data: object) -> str:
        """orjson: ten times json's speed on large results. A ``str``, so
        WebSocket messages go out as text frames, as graphql-transport-ws wants."""
        return orjson.dumps(data).decode()


REQUEST_ERRORS = frozenset(
    {"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"}
)
"""The codes of errors raised before execution: the document's syntax or
validity, its variables."""


def _request_error(error: Any) -> bool:
    """An error raised before execution: no field's path, a request error's
    code (an extension's failure has no path either, but may follow work)."""
    code = (error.get("extensions") or {}).get("code")
    return "path" not in error and code in REQUEST_ERRORS


__all__ = ["GuardedGraphQL"]
