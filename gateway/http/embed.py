"""``/embed``: the embeddable timeline page, its script and its GraphQL endpoint.

``GET /embed/timeline?token=…`` answers 401 for a bad or expired token and 403
when ``customer=`` names another customer than the token's; otherwise a small
page with the ``<customer-timeline>`` web component (``static/embed/``, plain
JavaScript, no CDN). The component talks to ``/embed/graphql`` — HTTP with
``Authorization: Embed <token>``, WebSocket (``graphql-transport-ws``) with
``?token=`` since browsers cannot set WebSocket headers.

The endpoint is a ``GuardedGraphQL`` like ``/graphql``: the same gate
(``gateway.admission.gate``) with tighter limits (``Limits.for_embed``, the
``CG_EMBED_*`` settings), a rate limit per token (keyed by its hash, shared
through Redis), introspection and suggestions off in production, and an open
socket closed (4403) when its token expires.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cross_web import AsyncHTTPRequestAdapter
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.relay import to_base64

from gateway.admission.gate import OperationGate
from gateway.admission.limits import Limits
from gateway.auth.authenticate import KEY_MEMORY_SECONDS
from gateway.auth.embed_tokens import (
    EmbedScope,
    EmbedTokenError,
    embed_scope,
    token_from_header,
)
from gateway.auth.policy import Role
from gateway.auth.principal import Principal
from gateway.errors import BadUserInput
from gateway.http.fragments import FragmentExecutor
from gateway.http.guarded import GuardedGraphQL
from gateway.http.one_authorization import single
from gateway.http.refusals import without_head
from gateway.loaders import Loaders
from gateway.relay.ids import decode_global_id
from gateway.resolvers.context import Context
from gateway.runtime.services import Services
from gateway.schema.embed import EmbedContext, build_embed_schema

STATIC = Path(__file__).parent.parent / "static" / "embed"
PAGE = (STATIC / "timeline.html").read_text()


def _scope(services: Services, token: str | None) -> EmbedScope:
    secret = services.settings.secret_key.get_secret_value()
    return embed_scope(secret, token)


class EmbedGraphQL(GuardedGraphQL):
    """The embed schema behind an embed token; nothing else is reachable."""

    challenge = "Embed"
    unauthenticated = "Send the embed token: Authorization: Embed <token>."
    rejected = "Invalid or expired embed token."

    def __init__(self, services: Services) -> None:
        settings = services.settings
        schema = build_embed_schema(
            introspection=settings.introspection_enabled, executor=FragmentExecutor
        )
        gate = OperationGate(
            schema._schema,
            Limits.for_embed(settings),
            services.embed_rate_limiter,
            settings.is_production,
        )
        super().__init__(schema, services, gate)

    def is_websocket_origin_allowed(self, request: WebSocket, origin: str) -> bool:
        """Any origin, as the HTTP endpoint answers any (``EmbedCrossOrigin``):
        the drop-in script opens its socket from the host tool's page. What
        Strawberry's default guards against — another site's page borrowing
        a browser's cookies — cannot happen here: the token travels in
        ``?token=``, never a cookie."""
        return True

    def credentials(
        self, connection: Request | WebSocket, params: Mapping[str, object] | None
    ) -> str | None:
        """``Authorization: Embed <token>``, or on a WebSocket (a browser's
        cannot send headers) ``?token=``: one of them, once."""
        header = connection.headers.get("authorization")
        given = [] if header is None else [token_from_header(header)]
        if isinstance(connection, WebSocket):
            given += connection.query_params.getlist("token")
        return single(given)

    def presented(
        self, connection: Request | WebSocket, params: Mapping[str, object] | None
    ) -> str | None:
        """A token given (header or ``?token=``) as ``Embed <token>``; else
        the header as sent (another scheme's, or none)."""
        token = self.credentials(connection, params)
        if token:
            return f"{self.challenge} {token}"
        return connection.headers.get("authorization")

    async def identify(
        self, credentials: str | None, *, max_age: float = KEY_MEMORY_SECONDS
    ) -> Principal | None:
        """Tokens are signed, not stored: nothing to read again. The embed
        role exists only here: no API key or JWT can hold it."""
        try:
            scope = _scope(self.services, credentials)
        except EmbedTokenError:
            return None
        digest = hashlib.sha256((credentials or "").encode()).hexdigest()[:32]
        return Principal(
            subject=f"embed:{scope.customer_id}",
            role=Role.EMBED,
            rate_key=f"embed:{digest}",
            customer_id=scope.customer_id,
            sources=scope.sources or frozenset(),
            expires_at=scope.expires_at,
            customer_born=scope.born,
        )

    def bind(self, context: Context, principal: Principal) -> None:
        super().bind(context, principal)
        customer, expires = principal.customer_id, principal.expires_at
        if isinstance(context, EmbedContext) and customer and expires:
            context.scope = EmbedScope(
                customer,
                principal.sources or None,
                expires,
                born=principal.customer_born,
            )

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        """The token is checked later, by the gate: ``execute_operation`` over
        HTTP, ``connection_init`` over WebSocket."""
        return EmbedContext(
            request=request,
            response=response,
            services=self.services,
            loaders=Loaders(self.services),
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
        """Audited like ``/graphql``: what the token's reader was shown (over
        WebSocket, each result is audited by ``StreamAudit``)."""
        items = request_data if isinstance(request_data, list) else [request_data]
        admitted, _ = await self.admit_http(request, items, context)
        prepared = [item for item, _ in admitted]
        result = await super().execute_operation(
            request,
            request_adapter,
            prepared if isinstance(request_data, list) else prepared[0],
            context,
            root_value,
            sub_response,
        )
        principal = context.principal
        assert principal is not None
        first, analysis = admitted[0]
        name = first.operation_name or (analysis.name if analysis else None)
        audit = context.services.audit
        audit.record(context.audit, principal, name)
        context.audit.clear()
        if audit.full:  # as /graphql's: the audit's writes set the pace
            await audit.room()
        return result

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        """403 when the query asked for another customer than the token's."""
        response = super().create_response(response_data, sub_response)
        body = response_data if isinstance(response_data, dict) else {}
        errors: Any = body.get("errors") or []
        codes = {(e.get("extensions") or {}).get("code") for e in errors}
        if "FORBIDDEN" in codes:
            response.status_code = 403
        return response


def _page(status: int, title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><meta charset=utf-8><title>{title}</title>"
        f"<body style='font:14px system-ui;margin:2rem'><h1>{title}</h1>"
        f"<p>{body}</p></body>",
        status_code=status,
    )


async def timeline_page(request: Request) -> Response:
    services: Services = request.app.state.services
    tokens = request.query_params.getlist("token")
    if len(tokens) > 1:  # which one counts would depend on who reads the link
        return _page(400, "Bad link", "This link names more than one token.")
    token = tokens[0] if tokens else None
    try:
        scope = _scope(services, token)
    except EmbedTokenError:
        return _page(401, "Link expired", "This timeline link is invalid or expired.")
    wanted = request.query_params.get("customer")
    if wanted is not None:
        try:
            _, pk = decode_global_id(wanted, "Customer")
        except BadUserInput:  # a malformed id names no customer of this token
            pk = -1
        if not scope.allows(pk):
            return _page(403, "Not allowed", "This link is for another customer.")
    page = PAGE.replace("{{token}}", html.escape(token or "", quote=True)).replace(
        "{{customer}}", to_base64("Customer", scope.customer_id)
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


async def script(request: Request) -> Response:
    return FileResponse(
        STATIC / "customer-timeline.js",
        media_type="text/javascript",
        headers={"Access-Control-Allow-Origin": "*"},
    )


class LazyEmbed:
    """The endpoint, built on first use: it needs the services, which the
    lifespan opens after the routes are made."""

    def __init__(self) -> None:
        self._view: EmbedGraphQL | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._view is None:
            self._view = EmbedGraphQL(scope["app"].state.services)
        await self._view(scope, receive, send)


ENDPOINT = "/embed/graphql"


class EmbedCrossOrigin:
    """CORS (any origin) for every HTTP answer of the embed endpoint: the
    ``<script>`` drop-in runs on the host tool's origin, and the token travels
    in a header, never a cookie, so no other site can borrow a browser's
    credentials. Outside the app's admission middleware (``create_app``),
    so that the refusals made there — two ``Authorization`` headers (400), a
    body over the limit the endpoint did not answer itself (413) — reach the
    script readable, not as the network error a browser makes of an answer
    without the headers; inside the drain's, whose ``Connection: close``
    its preflights' answers carry too. Every other path passes by untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cross_origin = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _route_path(scope) == ENDPOINT:
            await self.cross_origin(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path the router matches: behind a prefix (uvicorn's
    ``--root-path``), ``path`` holds it and the router takes it off."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def embed_routes() -> list[BaseRoute]:
    """The embed page, its script and its endpoint (its CORS:
    ``EmbedCrossOrigin``)."""
    graphql = LazyEmbed()
    return [
        Route("/embed/timeline", timeline_page),
        Route("/embed/customer-timeline.js", script),
        without_head(Route(ENDPOINT, graphql, methods=["GET", "POST", "OPTIONS"])),
        WebSocketRoute(ENDPOINT, graphql),
    ]
