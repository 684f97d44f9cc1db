"""``/graphql``: the API's endpoint, a ``GuardedGraphQL`` (``gateway.http.guarded``).

Credentials: ``Authorization: Bearer …`` (HTTP) or the same key in a
WebSocket's ``connection_init`` payload. Before anything executes a request
passes, in order: the content type (JSON only: a ``text/plain`` or form POST
is a cross-site request and gets 415), batching (off unless enabled, then
bounded), authentication (401, or 429 after repeated failures), persisted
queries, then the gate (``gateway.admission.gate``: rate limit, query limits, mutation
rights). An operation's cache writes overlap its execution and are done
before its response goes out (``gateway.cache.writes``).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult

from gateway.admission.answers import json_media
from gateway.admission.gate import Operation, OperationGate, audit_writes
from gateway.admission.limits import Analysis, Limits
from gateway.admission.persisted import PersistedQueryError
from gateway.auth.admission import client_address
from gateway.auth.audit import AuditTrail
from gateway.auth.authenticate import KEY_MEMORY_SECONDS
from gateway.auth.principal import Principal
from gateway.cache.responses import Versions
from gateway.cache.writes import deferred_writes, write
from gateway.errors import Refused
from gateway.http.fragments import FragmentExecutor
from gateway.http.graphiql import graphiql_page
from gateway.http.guarded import ADMITTED, Admitted, GuardedGraphQL
from gateway.http.one_authorization import single
from gateway.http.repeated_parts import Unreadable, repeats_a_part
from gateway.loaders import Loaders
from gateway.metrics import observe_operation
from gateway.resolvers.context import Context
from gateway.runtime.services import Services
from gateway.schema import build_schema

GRAPHQL_RESPONSE = "application/graphql-response+json"
PATH = "/graphql"


@dataclass(frozen=True, slots=True)
class Stored:
    """An answer read from the response cache, sent as its stored bytes: what
    ``_execute_cached`` returns in place of an ``ExecutionResult``."""

    body: bytes
    errors: None = None
    """Read by Strawberry's ``run`` of every result: a stored answer has none."""


class GraphQLApp(GuardedGraphQL):
    def __init__(
        self, services: Services, ide_headers: Mapping[str, str] | None
    ) -> None:
        settings = services.settings
        schema = build_schema(
            introspection=settings.introspection_enabled, executor=FragmentExecutor
        )
        gate = OperationGate(
            schema._schema,
            Limits.from_settings(settings),
            services.rate_limiter,
            settings.is_production,
        )
        super().__init__(schema, services, gate, graphql_ide=settings.graphiql_enabled)
        self.ide_headers = dict(ide_headers or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """An HTTP exchange's cache writes land after its response is sent
        (``gateway.cache.writes``); a WebSocket's are awaited where made."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        async with deferred_writes():
            await super().__call__(scope, receive, send)

    def credentials(
        self, connection: Request | WebSocket, params: Mapping[str, object] | None
    ) -> str | None:
        if isinstance(connection, WebSocket):
            header = single(
                [v for k, v in (params or {}).items() if k.lower() == "authorization"]
            )
            return header if isinstance(header, str) else None
        return connection.headers.get("authorization")

    async def identify(
        self, credentials: str | None, *, max_age: float = KEY_MEMORY_SECONDS
    ) -> Principal | None:
        return await self.services.auth.authenticate(credentials, max_age=max_age)

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

    async def execute_operation(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> Any:
        items = request_data if isinstance(request_data, list) else [request_data]
        admitted, read = await self.admit_http(request, items, context)
        started = time.perf_counter()  # a stored answer's time, as an executed one's
        principal = context.principal
        assert principal is not None
        for item, analysis in admitted:
            audit_writes(context.audit, analysis, item.variables)
        prepared = [item for item, _ in admitted]
        first, analysis = admitted[0]
        if isinstance(request_data, list) or analysis is None:
            result = await super().execute_operation(
                request,
                request_adapter,
                prepared if isinstance(request_data, list) else first,
                context,
                root_value,
                sub_response,
            )
        else:
            result = await self._execute_cached(
                request,
                request_adapter,
                first,
                analysis,
                context,
                sub_response,
                read,
            )
        name = first.operation_name or (analysis.name if analysis else None)
        audit = self.services.audit
        audit.record(context.audit, principal, name)
        if isinstance(result, Stored):  # executed ones are counted as they run
            observe_operation(name, True, time.perf_counter() - started)
        if audit.full:  # a load faster than the audit's writes: their pace
            await audit.room()
        return result

    async def answer_held(
        self, scope: Scope, receive: Receive, send: Send
    ) -> Receive | None:
        """A POST whose answer this worker holds (``gateway.cache.held``),
        answered without Starlette's routing or Strawberry: the caller admitted
        and the operation gated as on the full path (``admit_reading``: the
        token and the versions in one round trip), the held bytes sent if the
        versions are current, the audit entries replayed. ``None`` once
        answered (or refused); otherwise the ``receive`` the full path reads
        the request from, the body replayed. Anything unusual (another media
        type or transport, a batch, a caller not admitted at once) goes the
        full path untouched but for the body read; a request not held, or
        whose held copy is stale, goes on with what the lane did
        (``Admitted``: the caller, the resolved operation, and for a stale
        copy the token taken and the values read), which ``admit_http`` does
        not do again."""
        responses = self.services.responses
        if responses is None or not responses.held.budget:
            return receive
        request = Request(scope)
        headers = request.headers
        if not _plain_json(headers, self.services.settings.max_body_bytes) or (
            self._get_stream_transport_from_headers(headers) is not None
        ):
            return receive
        received, body = await _read_body(receive)
        replay = _replaying(received, receive)
        found = _single_operation(body)
        if found is None:
            return replay
        item, decoded = found
        address = client_address(request)
        if self.services.login_failures.blocked_for(address):
            return replay
        principal = await self.identify(self.credentials(request, None))
        if principal is None:  # the full path counts the failure, once
            return replay
        try:
            item = await self.resolve(item)
            assert isinstance(item.query, str)
            known = responses.known(
                item.query, item.operation_name, item.variables, principal.role.value
            )
            if known is None or known.key not in responses.held:
                scope[ADMITTED] = Admitted(principal, item)
                return replay
            if _repeats_a_part(body, decoded):  # the full path refuses it
                return replay
            operation = Operation(item.query, item.operation_name, item.variables)
            keys = responses.reading(known)
            analysis, values = await self.gate.admit_reading(
                principal, operation, "POST", keys
            )
        except Refused as refused:
            await refused.response()(scope, replay, send)
            return None
        started = time.perf_counter()  # admitted: timed as on the full path
        if values is None:  # not read with the token: a cluster's keys
            values = await responses.backend.get_many(keys)
        hit = responses.held_answer(known, values) if analysis is not None else None
        if hit is None:
            scope[ADMITTED] = Admitted(principal, item, (analysis, values))
            return replay
        trail = AuditTrail()
        trail.replay(hit.shown)
        name = item.operation_name or (analysis.name if analysis else None)
        audit = self.services.audit
        audit.record(trail, principal, name)
        elapsed = time.perf_counter() - started  # as the full path's, not the wait
        if audit.full:
            await audit.room()
        wants = headers.get("accept", "")
        media = GRAPHQL_RESPONSE if GRAPHQL_RESPONSE in wants else "application/json"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(hit.body)).encode()),
                    (b"content-type", media.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": hit.body})
        observe_operation(name, True, elapsed)
        return None

    async def _execute_cached(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        data: GraphQLRequestData,
        analysis: Analysis,
        context: Context,
        sub_response: Response,
        read: list[bytes | None] | None,
    ) -> Any:
        """One operation, through the response cache when it is cacheable: a
        current stored answer is returned as ``Stored``, nothing executed
        (``read``: its entry and versions, read with the rate-limit token).
        Otherwise, unless it asks for customers by id only (one answer, kept
        whole), a query shows its customers from their cached fragments where
        current (``gateway.http.fragments``; mutations never do)."""
        responses = self.services.responses
        principal = context.principal
        assert principal is not None
        if responses is None:
            return await super().execute_operation(
                request, request_adapter, data, context, None, sub_response
            )
        role = principal.role.value
        lookup = responses.lookup(
            analysis.operation,
            data.query or "",
            data.operation_name,
            data.variables,
            role,
        )
        versions: Versions = []
        if lookup is not None:
            hit, versions = await responses.get(lookup, read)
            if hit is not None:
                context.audit.replay(hit.shown)
                return Stored(hit.body)
        reader = None
        if lookup is None or lookup.lists:  # its customers, one by one
            context.fragments = reader = responses.fragments(role)
        result = await super().execute_operation(
            request, request_adapter, data, context, None, sub_response
        )
        if reader is not None:  # under the versions read: safe after the response
            await write(reader.flush())
        if lookup is None:
            return result
        if (
            isinstance(result, ExecutionResult)
            and result.data is not None
            and not result.errors
            and not result.extensions
            and not context.errors
            and not context.survivor_shown
        ):
            body = orjson.dumps({"data": result.data})
            await write(responses.put(lookup, versions, body, context.audit.shown()))
        return result

    def _validate_batch_request(
        self, request_data: list[GraphQLRequestData], protocol: Any
    ) -> None:
        """Strawberry's hook while parsing the body: batches are ours to bound."""
        settings = self.services.settings
        if not settings.batching_enabled:
            raise Refused(400, "BATCHING_DISABLED", "Batched operations are disabled.")
        if len(request_data) > settings.max_batch:
            raise Refused(
                400,
                "BATCH_TOO_LARGE",
                f"At most {settings.max_batch} operations per request.",
            )

    def reading(self, item: GraphQLRequestData, principal: Principal) -> list[str]:
        """A request seen before: its stored answer's keys, read with the
        rate-limit token, so a hit costs one round trip to Redis."""
        responses = self.services.responses
        if responses is None or not isinstance(item.query, str):
            return []
        known = responses.known(
            item.query, item.operation_name, item.variables, principal.role.value
        )
        return [] if known is None else responses.reading(known)

    async def resolve(self, item: GraphQLRequestData) -> GraphQLRequestData:
        """The operation to run, a persisted one resolved to its document."""
        try:
            query = await self.services.persisted.document(item.query, item.extensions)
        except PersistedQueryError as exc:
            raise Refused(exc.status, exc.code, exc.message) from exc
        if query is None:
            raise Refused(400, "BAD_REQUEST", "No GraphQL query found in the request.")
        return GraphQLRequestData(
            query=query,
            variables=item.variables,
            operation_name=item.operation_name,
            extensions=item.extensions,
            protocol=item.protocol,
        )

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if isinstance(result, Stored):  # already processed when it was stored
            return result
        return await super().process_result(request, result)

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        if isinstance(response_data, Stored):
            response = Response(
                response_data.body,
                media_type=sub_response.media_type or "application/json",
            )
            response.headers.raw.extend(sub_response.headers.raw)
            return response
        response = super().create_response(response_data, sub_response)
        if sub_response.media_type == GRAPHQL_RESPONSE:
            response.headers["content-type"] = GRAPHQL_RESPONSE
            if isinstance(response_data, dict) and "data" not in response_data:
                response.status_code = 400  # a request error: nothing was executed
        return response

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql_page(
            endpoint=request.url.path, default_headers=self.ide_headers
        )


def _plain_json(headers: Headers, limit: int) -> bool:
    """A body declared JSON in UTF-8, uncompressed, as ``check_media_type``
    takes it, of a length within ``limit``."""
    length = headers.get("content-length", "")
    return (
        json_media(headers.get("content-type", ""))
        and length.isascii()
        and length.isdigit()
        and int(length) <= limit
        and "content-encoding" not in headers
    )


async def _read_body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """The messages received and the body they carry (``None``: the client
    left before sending it all)."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return messages, b"".join(chunks)


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` with ``messages`` received again first."""
    pending = deque(messages)

    async def replay() -> Message:
        return pending.popleft() if pending else await receive()

    return replay


def _repeats_a_part(body: bytes | None, decoded: dict[str, Any]) -> bool:
    """Whether a held answer's body names a part twice (``repeated_parts``),
    or cannot be checked: asked only of a request the lane would answer, so
    that no other request pays for the check twice (the full path's)."""
    try:
        return body is not None and repeats_a_part(body, decoded)
    except Unreadable:
        return True


def _single_operation(
    body: bytes | None,
) -> tuple[GraphQLRequestData, dict[str, Any]] | None:
    """The one operation a body holds, its parts of the types Strawberry and
    the gate accept, and the body decoded; ``None`` for anything else (the
    full path answers it)."""
    try:
        value = orjson.loads(body) if body is not None else None
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    query = value.get("query")
    variables = value.get("variables")
    name = value.get("operationName")
    extensions = value.get("extensions")
    if (
        not isinstance(query, str | None)
        or not isinstance(variables, dict | None)
        or not isinstance(name, str | None)
        or not isinstance(extensions, dict | None)
    ):
        return None
    item = GraphQLRequestData(
        query=query,
        variables=variables,
        operation_name=name,
        extensions=extensions,
        protocol="http",
    )
    return item, value


class HeldAnswers:
    """ASGI middleware: a POST to ``/graphql`` is offered first to
    ``GraphQLApp.answer_held``, which answers it from the worker's memory
    when it can; the rest of the app sees only what it did not answer.
    Innermost of the app's middlewares, so the body limit and the drain's
    ``Connection: close`` hold on it too."""

    def __init__(self, app: ASGIApp, endpoint: Callable[[], GraphQLApp]) -> None:
        self.app = app
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == PATH
            and not scope.get("root_path")
        ):
            rest = await self.endpoint().answer_held(scope, receive, send)
            if rest is None:
                return
            receive = rest
        await self.app(scope, receive, send)


__all__ = ["GraphQLApp", "HeldAnswers"]
