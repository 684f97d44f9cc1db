"""Klaviyo's error documents, as the simulator answers them.

Every error is a JSON:API error document (the spec's ``ClientError`` and
``ServerError`` responses: ``errors[]`` of ``id``, ``code``, ``title``,
``detail``, ``source``), sent as ``application/vnd.api+json``, with the
status beside each error as Klaviyo writes it::

    {"errors": [{"id": "8f0f…", "status": 400, "code": "invalid",
                 "title": "Invalid input.",
                 "detail": "'email' is not a valid email address.",
                 "source": {"pointer": "/data/attributes/profiles/data/0/…"}}]}

The codes are those of the Django REST framework Klaviyo's API answers with
(``not_authenticated``, ``authentication_failed``, ``throttled``, ``invalid``,
``not_found``, ``unsupported_media_type``, ``parse_error``) and Klaviyo's own
``duplicate_profile`` (with ``meta.duplicate_profile_id``); the titles and
details of the 429 and 401 follow DRF's messages [src: DRF ``exceptions.py``];
the other details are the simulator's own wording [unverified].
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

JSON_API = "application/vnd.api+json"


class ApiError(Exception):
    """An error answer, raised anywhere below a handler."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        *,
        pointer: str | None = None,
        parameter: str | None = None,
        meta: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.source: dict[str, str] = {}
        if pointer is not None:
            self.source["pointer"] = pointer
        if parameter is not None:
            self.source["parameter"] = parameter
        self.meta = dict(meta or {})
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        error: dict[str, object] = {
            "id": str(uuid.uuid4()),
            "status": self.status,
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
            "source": self.source,
        }
        if self.meta:
            error["meta"] = self.meta
        return document({"errors": [error]}, self.status, self.headers)


def invalid(detail: str, pointer: str) -> ApiError:
    return ApiError(400, "invalid", "Invalid input.", detail, pointer=pointer)


def bad_parameter(detail: str, parameter: str) -> ApiError:
    return ApiError(400, "invalid", "Invalid input.", detail, parameter=parameter)


def not_found(detail: str = "Not found.") -> ApiError:
    return ApiError(404, "not_found", "Not found.", detail)


def not_authenticated() -> ApiError:
    return ApiError(
        401,
        "not_authenticated",
        "Authentication credentials were not provided.",
        "Missing or invalid authorization scheme. Please use Klaviyo-API-Key.",
    )


def authentication_failed() -> ApiError:
    return ApiError(
        401,
        "authentication_failed",
        "Incorrect authentication credentials.",
        "Incorrect authentication credentials.",
    )


def throttled(retry_after: int) -> ApiError:
    unit = "second" if retry_after == 1 else "seconds"
    return ApiError(
        429,
        "throttled",
        "Request was throttled.",
        f"Request was throttled. Expected available in {retry_after} {unit}.",
        headers={"Retry-After": str(retry_after)},
    )


def injected(status: int) -> ApiError:
    """A failure a test asked for, in Klaviyo's envelope."""
    if status == 401:
        return authentication_failed()
    if status == 403:
        return ApiError(
            403,
            "permission_denied",
            "You do not have permission to perform this action.",
            "The API key lacks a scope this request needs.",
        )
    if status >= 500:
        return ApiError(
            status, "error", "A server error occurred.", "A server error occurred."
        )
    return ApiError(status, "error", "Request failed.", "Request failed.")


def document(
    body: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers, media_type=JSON_API)


def without_trailing_slash(app: ASGIApp) -> ASGIApp:
    """Klaviyo serves each path with and without its trailing slash."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path")
        if isinstance(path, str) and len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/")}
        await app(scope, receive, send)

    return asgi
