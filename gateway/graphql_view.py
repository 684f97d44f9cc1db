"""The GraphQL endpoint: Strawberry's ASGI view, with our rules in front of it.

Before anything executes, a request must pass, in order: the content type
(JSON only: a ``text/plain`` or form POST is a cross-site request and gets 415),
batching (off unless enabled, then bounded), authentication (401), the rate
limit (429 with ``Retry-After``), persisted queries, and the query limits
(``gateway.limits``: 400 with a code). A mutation over GET is 405; a mutation the
caller's role may not run is 403. Refusals are JSON ``{"errors": [...]}`` with
``extensions.code`` — never a stack trace. An operation's cache writes overlap
its execution and are done before its response goes out
(``gateway.cache_writes``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from gateway.auth.admission import Refusal, admit
from gateway.auth.audit import AuditTrail
from gateway.auth.policy import may_run_mutation
from gateway.auth.socket_guard import RateLimitedTransportWS
from gateway.cache_writes import deferred_writes
from gateway.context import Context
from gateway.errors import format_errors
from gateway.graphiql import graphiql_page
from gateway.http_answers import (
    Answered,
    Rejected,
    check_media_type,
    customer_argument,
    decode_body,
)
from gateway.limits import Analysis, LimitExceeded, Limits, analyse
from gateway.loaders import Loaders
from gateway.persisted import PersistedQueryError
from gateway.schema import build_schema
from gateway.services import Services

log = logging.getLogger("gateway.graphql")

GRAPHQL_RESPONSE = "application/graphql-response+json"
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


class GraphQLApp(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = RateLimitedTransportWS

    def __init__(
        self, services: Services, ide_headers: Mapping[str, str] | None
    ) -> None:
        settings = services.settings
        schema = build_schema(introspection=settings.introspection_enabled)
        super().__init__(
            schema, graphql_ide="graphiql" if settings.graphiql_enabled else None
        )
        self.graphql_schema = schema._schema
        self.services = services
        self.ide_headers = dict(ide_headers or {})
        self.limits = Limits.from_settings(settings)
        self.production = settings.is_production

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if scope["type"] == "http":
                check_media_type(Request(scope), self.services.settings.max_body_bytes)
            await super().__call__(scope, receive, send)
        except (Rejected, Answered) as answer:
            await answer.response()(scope, receive, send)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        """The caller is identified later, in ``execute_operation``: a browser's
        GET for GraphiQL needs no credentials, and WebSockets authenticate in
        ``connection_init``."""
        services = self.services
        wants = request.headers.get("accept", "")
        if isinstance(response, Response) and GRAPHQL_RESPONSE in wants:
            response.media_type = GRAPHQL_RESPONSE
        return Context(
            request=request,
            response=response,
            services=services,
            loaders=Loaders(services),
            audit=AuditTrail(),
        )

    async def on_ws_connect(
        self, context: Context
    ) -> UnsetType | dict[str, object] | None:
        """WebSocket clients authenticate in ``connection_init``'s payload
        (``{"Authorization": "Bearer …"}``); others are closed with 4403."""
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        principal = await self.services.auth.authenticate(
            header if isinstance(header, str) else None
        )
        if principal is None:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        context.principal = principal
        unset: UnsetType = UNSET
        return unset

    async def execute_operation(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> Any:
        try:
            principal = await admit(
                self.services.auth,
                self.services.rate_limiter,
                request.headers.get("authorization"),
            )
        except Refusal as refusal:
            raise Rejected(
                refusal.status, refusal.code, refusal.message, refusal.headers
            ) from refusal
        context.principal = principal
        items = request_data if isinstance(request_data, list) else [request_data]
        prepared = [await self._prepare(request, item, context) for item in items]
        first, analysis = prepared[0]
        async with deferred_writes():
            if isinstance(request_data, list) or analysis is None:
                result = await super().execute_operation(
                    request,
                    request_adapter,
                    [data for data, _ in prepared]
                    if isinstance(request_data, list)
                    else first,
                    context,
                    root_value,
                    sub_response,
                )
            else:
                result = await self._execute_cached(
                    request, request_adapter, first, analysis, context, sub_response
                )
        self.services.audit.record(context.audit, principal, first.operation_name)
        return result

    async def _execute_cached(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        data: GraphQLRequestData,
        analysis: Analysis,
        context: Context,
        sub_response: Response,
    ) -> Any:
        """One operation, through the response cache when it is cacheable."""
        responses = self.services.responses
        principal = context.principal
        assert principal is not None
        lookup = (
            responses.lookup(
                analysis.operation,
                data.query or "",
                data.operation_name,
                data.variables,
                principal.role.value,
            )
            if responses is not None
            else None
        )
        if responses is None or lookup is None:
            return await super().execute_operation(
                request, request_adapter, data, context, None, sub_response
            )
        hit, versions = await responses.get(lookup)
        if hit is not None:
            for customer_id, names in hit.reads.items():
                for name in names:
                    context.audit.read(customer_id, name)
            self.services.audit.record(context.audit, principal, data.operation_name)
            raise Answered(hit.body, sub_response.media_type)
        result = await super().execute_operation(
            request, request_adapter, data, context, None, sub_response
        )
        if (
            isinstance(result, ExecutionResult)
            and result.data is not None
            and not result.errors
            and not result.extensions
            and not context.errors
        ):
            body = orjson.dumps({"data": result.data})
            await responses.put(lookup, versions, body, context.audit.reads)
        return result

    def _validate_batch_request(
        self, request_data: list[GraphQLRequestData], protocol: Any
    ) -> None:
        """Strawberry's hook while parsing the body: batches are ours to bound."""
        settings = self.services.settings
        if not settings.batching_enabled:
            raise Rejected(400, "BATCHING_DISABLED", "Batched operations are disabled.")
        if len(request_data) > settings.max_batch:
            raise Rejected(
                400,
                "BATCH_TOO_LARGE",
                f"At most {settings.max_batch} operations per request.",
            )

    async def _prepare(
        self, request: Request, item: GraphQLRequestData, context: Context
    ) -> tuple[GraphQLRequestData, Analysis | None]:
        """The operation to run (a persisted one resolved), checked against the
        limits and the caller's mutation rights, with its analysis."""
        try:
            query = await self.services.persisted.document(item.query, item.extensions)
        except PersistedQueryError as exc:
            raise Rejected(exc.status, exc.code, exc.message) from exc
        if query is None:
            raise Rejected(400, "BAD_REQUEST", "No GraphQL query found in the request.")
        try:
            analysis = analyse(
                self.graphql_schema,
                query,
                item.operation_name,
                item.variables,
                self.limits,
            )
        except LimitExceeded as exc:
            raise Rejected(400, exc.code, exc.message) from exc
        except GraphQLError:
            analysis = None  # a syntax error: the executor reports it with its location
        if analysis is not None and analysis.is_mutation:
            self._check_mutation(request, analysis, item, context)
        prepared = GraphQLRequestData(
            query=query,
            variables=item.variables,
            operation_name=item.operation_name,
            extensions=item.extensions,
            protocol=item.protocol,
        )
        return prepared, analysis

    def _check_mutation(
        self,
        request: Request,
        analysis: Analysis,
        item: GraphQLRequestData,
        context: Context,
    ) -> None:
        if request.method == "GET":
            raise Rejected(
                405,
                "METHOD_NOT_ALLOWED",
                "Mutations must be sent with POST.",
                {"Allow": "POST"},
            )
        principal = context.principal
        assert principal is not None
        for node in analysis.root_fields:
            name = node.name.value
            if not may_run_mutation(principal.role, name):
                raise Rejected(
                    403, "FORBIDDEN", f"The {principal.role} role may not run {name}."
                )
            context.audit.wrote(customer_argument(node, item.variables), name)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        result.errors = format_errors(result.errors)
        if self.production and result.errors:
            for error in result.errors:
                error.message = _SUGGESTION.sub("", error.message)
        return await super().process_result(request, result)

    def decode_json(self, data: str | bytes) -> object:
        return decode_body(data)

    def encode_json(self, data: object) -> str:
        """orjson: ten times json's speed on large results. A ``str``, so
        WebSocket messages go out as text frames, as graphql-transport-ws wants."""
        return orjson.dumps(data).decode()

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        if sub_response.media_type == GRAPHQL_RESPONSE:
            response.headers["content-type"] = GRAPHQL_RESPONSE
            if isinstance(response_data, dict) and response_data.get("data") is None:
                response.status_code = 400  # a request error: nothing was executed
        return response

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql_page(
            endpoint=request.url.path, default_headers=self.ide_headers
        )


__all__ = ["GraphQLApp"]
