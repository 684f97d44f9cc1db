"""The checks of a raw GraphQL request before it is parsed (its declared size
and media type, which it leaves in lower case), and the customer a mutation
names, for the audit."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.types import Scope

from gateway.admission.body_limit import BodyTooLarge
from gateway.errors import Refused
from gateway.relay.ids import decode_global_id


def check_media_type(request: Request, limit: int) -> None:
    """413 for a declared body over ``limit``; 415 for a POST that is not JSON."""
    if request.method != "POST":
        return
    length = request.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length) > limit:
        raise BodyTooLarge(limit)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise Refused(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "POST bodies must be application/json.",
        )
    _lower_media_type(request.scope)


def _lower_media_type(scope: Scope) -> None:
    """``Content-Type``'s media type in lower case in ``scope``: media types
    are case-insensitive (RFC 9110, 8.3.1), but Strawberry's parser looks for
    ``application/json`` in lower case only and would answer
    ``APPLICATION/JSON`` 400. The parameters are left as sent."""
    headers = scope["headers"]
    for index, (name, value) in enumerate(headers):
        if name == b"content-type":
            media, semicolon, parameters = value.partition(b";")
            if media != media.lower():
                headers = list(headers)
                headers[index] = (name, media.lower() + semicolon + parameters)
                scope["headers"] = headers
            return


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
