"""Starlette's own refusals — a path no route serves (404), a method its route
does not take (405) — answered in JSON, in the shape of the surface they
reached, as that surface's other refusals are (``Refused.response``): a
GraphQL error on ``/graphql`` and the embed endpoint, Segment's on ``/v1/``,
``{"error", "code"}`` elsewhere. Starlette's headers go with them (a 405's
``Allow``)."""

from __future__ import annotations

from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.errors import Refused, Shape


def shape_of(path: str) -> Shape:
    """The error shape of the surface serving ``path``."""
    if path == "/graphql" or path.startswith("/embed/graphql"):
        return "graphql"
    if path == "/v1" or path.startswith("/v1/"):
        return "segment"
    return "plain"


def _code(status: int) -> str:
    """``NOT_FOUND``, ``METHOD_NOT_ALLOWED``: the status's name (RFC 9110's
    reason phrase), as the API's other codes are spelled."""
    try:
        return HTTPStatus(status).name
    except ValueError:
        return "BAD_REQUEST"


def _message(status: int, allowed: str | None) -> str:
    if status == 404:
        return "Nothing is served at this path."
    if status == 405 and allowed:
        methods = sorted(m.strip() for m in allowed.split(","))
        return f"This path takes {', '.join(methods)} only."
    return "The request was refused."


async def http_refusal(request: Request, exc: Exception) -> Response:
    """The app's handler of ``HTTPException``: Starlette raises one for an
    unknown path or method (and its static files for a file it may not
    read, 401); nothing of ours does."""
    if not isinstance(exc, HTTPException):  # pragma: no cover - registered for it
        raise exc
    headers = dict(exc.headers or {})
    refused = Refused(
        exc.status_code,
        _code(exc.status_code),
        _message(exc.status_code, headers.get("Allow")),
        headers=headers,
    )
    return refused.response(shape_of(request.url.path))


def without_head(route: Route) -> Route:
    """``route`` not taking ``HEAD``, which Starlette adds to every ``GET``
    route: a GraphQL endpoint answers no ``HEAD`` (Strawberry refuses it), so
    its 405s do not list it."""
    if route.methods is not None:
        route.methods.discard("HEAD")
    return route
