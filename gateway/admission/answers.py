"""Answers given before execution: a refusal (an HTTP status with a GraphQL
error and code) or a stored response, and the checks of the raw request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.relay.ids import decode_global_id


class Rejected(Exception):
    """A request refused before execution, answered as a JSON error."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.extensions = dict(extensions or {})

    def response(self) -> Response:
        extensions = {"code": self.code, **self.extensions}
        body = {"errors": [{"message": self.message, "extensions": extensions}]}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


class Answered(Exception):
    """A request answered before execution, from the response cache."""

    def __init__(self, body: bytes, media_type: str | None) -> None:
        super().__init__("answered from the response cache")
        self.body = body
        self.media_type = media_type or "application/json"

    def response(self) -> Response:
        return Response(self.body, media_type=self.media_type)


def check_media_type(request: Request, limit: int) -> None:
    """413 for a declared body over ``limit``; 415 for a POST that is not JSON."""
    if request.method != "POST":
        return
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise Rejected(
            413, "REQUEST_TOO_LARGE", f"The request body exceeds {limit} bytes."
        )
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise Rejected(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "POST bodies must be application/json.",
        )


def customer_argument(node: Any, variables: dict[str, Any] | None) -> int | None:
    """The customer a mutation names (``customerId`` or ``id``), for the audit."""
    for argument in node.arguments or ():
        if argument.name.value not in ("customerId", "id"):
            continue
        value = argument.value
        raw = (
            (variables or {}).get(value.name.value)
            if value.kind == "variable"
            else getattr(value, "value", None)
        )
        if isinstance(raw, str):
            try:
                type_name, pk = decode_global_id(raw)
            except Exception:  # a malformed id: the mutation itself reports it
                return None
            return pk if type_name == "Customer" else None
    return None
