"""``/embed``: the embeddable timeline page, its script and its GraphQL endpoint.

``GET /embed/timeline?token=…`` answers 401 for a bad or expired token and 403
when ``customer=`` names another customer than the token's; otherwise a small
page with the ``<customer-timeline>`` web component (``static/embed/``, plain
JavaScript, no CDN). The component talks to ``/embed/graphql`` — HTTP with
``Authorization: Embed <token>``, WebSocket (``graphql-transport-ws``) with
``?token=`` since browsers cannot set WebSocket headers.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from cross_web import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.relay import to_base64
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from gateway.context import Context
from gateway.embed import EmbedScope, EmbedTokenError, embed_scope, token_from_header
from gateway.errors import BadUserInput, format_errors
from gateway.http_answers import decode_body
from gateway.ids import decode_global_id
from gateway.loaders import Loaders
from gateway.schema.embed import EmbedContext, build_embed_schema
from gateway.services import Services

STATIC = Path(__file__).parent / "static" / "embed"
PAGE = (STATIC / "timeline.html").read_text()


def _scope(services: Services, token: str | None) -> EmbedScope:
    secret = services.settings.secret_key.get_secret_value()
    return embed_scope(secret, token)


class EmbedGraphQL(GraphQL[Context, None]):
    """The embed schema behind an embed token; nothing else is reachable."""

    def __init__(self) -> None:
        super().__init__(build_embed_schema(), graphql_ide=None)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        services: Services = request.app.state.services
        header = token_from_header(request.headers.get("authorization"))
        try:
            scope: EmbedScope | None = _scope(
                services, header or request.query_params.get("token")
            )
        except EmbedTokenError as exc:
            if isinstance(request, Request):
                raise HTTPException(401, "Invalid or expired embed token.") from exc
            scope = None  # the WebSocket is refused in on_ws_connect
        return EmbedContext(
            request=request,
            response=response,
            services=services,
            loaders=Loaders(services),
            scope=scope,
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object]:
        if not isinstance(context, EmbedContext) or context.scope is None:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        unset: UnsetType = UNSET
        return unset

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        result.errors = format_errors(result.errors)
        return await super().process_result(request, result)

    def decode_json(self, data: str | bytes) -> object:
        return decode_body(data)

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
    token = request.query_params.get("token")
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


def embed_routes() -> list[BaseRoute]:
    """The embed page, its script and its endpoint. The endpoint answers
    cross-origin requests (CORS, any origin): the ``<script>`` drop-in runs on
    the host tool's origin, and the token travels in a header, never a cookie,
    so no other site can borrow a browser's credentials."""
    graphql = EmbedGraphQL()
    cross_origin = CORSMiddleware(
        graphql,
        allow_origins=["*"],
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )
    return [
        Route("/embed/timeline", timeline_page),
        Route("/embed/customer-timeline.js", script),
        Route("/embed/graphql", cross_origin, methods=["GET", "POST", "OPTIONS"]),
        WebSocketRoute("/embed/graphql", graphql),
    ]
