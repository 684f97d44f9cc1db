"""Starlette's own refusals — a path no route serves (404), a method its route
does not take (405) — answered in JSON, in the shape of the surface they
reached, as that surface's other refusals are (``Refused.response``): a
GraphQL error on ``/graphql`` and the embed endpoint, Segment's on ``/v1/``,
``{"error", "code"}`` elsewhere. Starlette's headers go with them (a 405's
``Allow``)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import Refused, Shape

_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


def shape_of(path: str) -> Shape:
    """The error shape of the surface serving ``path``."""
    if path == "/graphql" or path.startswith("/embed/graphql"):
        return "graphql"
    if path.startswith("/v1/"):
        return "segment"
    return "plain"


def _message(status: int, allowed: str | None) -> str:
    if status == 404:
        return "Nothing is served at this path."
    if status == 405 and allowed:
        return f"This path takes {allowed} only."
    return "The request was refused."


async def http_refusal(request: Request, exc: Exception) -> Response:
    """The app's handler of ``HTTPException``: Starlette raises one for an
    unknown path or method; nothing of ours does."""
    if not isinstance(exc, HTTPException):  # pragma: no cover - registered for it
        raise exc
    headers = dict(exc.headers or {})
    refused = Refused(
        exc.status_code,
        _CODES.get(exc.status_code, "BAD_REQUEST"),
        _message(exc.status_code, headers.get("Allow")),
        headers=headers,
    )
    return refused.response(shape_of(request.url.path))
