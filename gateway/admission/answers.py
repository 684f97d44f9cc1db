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
    """413 for a declared body over ``limit``; 415 for a POST that is not
    JSON, or whose body is compressed (``Content-Encoding`` other than
    ``identity``: a gzipped body would otherwise be read as JSON and answered
    "not JSON", 400), with ``Accept-Encoding: identity`` as RFC 9110 (15.5.16)
    asks of a refused content coding."""
    if request.method != "POST":
        return
    headers = request.headers
    length = headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length) > limit:
        raise BodyTooLarge(limit)
    if not json_media(headers.get("content-type", "")):
        raise Refused(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "POST bodies must be application/json in UTF-8.",
        )
    if not _identity(headers.getlist("content-encoding")):
        raise Refused(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "Compressed request bodies are not accepted: send the body without"
            " a Content-Encoding.",
            headers={"Accept-Encoding": "identity"},
        )
    _lower_media_type(request.scope)


OWS = " \t"
"""The only whitespace a header value may hold around its parts (RFC 9110, 5.6.3)."""


def _identity(encodings: list[str]) -> bool:
    """Whether every ``Content-Encoding`` line, each a list of codings
    (RFC 9110, 8.4), names only ``identity`` or nothing: all lines read, as a
    second line naming ``br`` applies as much as the first."""
    return all(
        coding.strip(OWS).lower() in ("", "identity")
        for line in encodings
        for coding in line.split(",")
    )


def json_media(content_type: str) -> bool:
    """Whether a ``Content-Type`` declares JSON in UTF-8: the media type
    ``application/json`` in any case (RFC 9110, 8.3.1) between spaces and
    tabs only — no other whitespace, control or non-ASCII byte, which
    ``str.strip`` would have let through — and a ``charset``, if any, of
    ``utf-8`` (JSON is UTF-8: RFC 8259, 8.1)."""
    media, _, parameters = content_type.partition(";")
    if media.strip(OWS).lower() != "application/json":
        return False
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip(OWS).lower() == "charset":
            charset = value.strip(OWS).removeprefix('"').removesuffix('"').lower()
            if charset not in ("utf-8", "utf8"):
                return False
    return True


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
