"""The simulator's answers besides data: Zendesk's error bodies, the 429 of a
spent limit, request bodies read leniently, and paths with or without
``.json``.

The bodies of the project's upstream notes (shared/upstream-apis.md §2.7):
401 ``Couldn't authenticate you`` [obs], 404 ``RecordNotFound`` [src zenpy
cassette], 422 ``RecordInvalid`` with ``details`` [obs]; the 403 text is
unverified and the 429 body is not contractual [obs] — clients rely on the
status (and ``Retry-After``) only.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

NOT_FOUND = {"error": "RecordNotFound", "description": "Not found"}
UNAUTHENTICATED = {"error": "Couldn't authenticate you"}
_BODIES: dict[int, dict[str, str]] = {
    401: UNAUTHENTICATED,
    403: {"error": "Forbidden", "description": "You do not have access"},
    404: NOT_FOUND,
}


def error(status: int) -> Response:
    """An injected failure, in Zendesk's envelope where it has one."""
    body = _BODIES.get(status, {"error": "ServiceUnavailable"})
    return JSONResponse(body, status_code=status)


def too_many(retry_after: float) -> Response:
    return Response(
        "You have exceeded the rate limit. Please wait before trying again.",
        status_code=429,
        headers={"Retry-After": str(int(retry_after))},
        media_type="text/plain",
    )


def invalid(reason: Exception) -> Response:
    return JSONResponse(
        {
            "error": "RecordInvalid",
            "description": "Record validation errors",
            "details": {"base": [{"description": str(reason)}]},
        },
        status_code=422,
    )


async def read_json(request: Request) -> object:
    """The body as JSON; ``None`` when it is not (the write then refuses it)."""
    try:
        return json.loads(await request.body())
    except ValueError:
        return None


def strip_json_suffix(app: ASGIApp) -> ASGIApp:
    """Zendesk accepts every path with or without ``.json``."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path")
        if isinstance(path, str) and path.endswith(".json"):
            scope = {**scope, "path": path.removesuffix(".json")}
        await app(scope, receive, send)

    return asgi
