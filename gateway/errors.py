"""Errors the gateway shows to clients, and the one place that formats them.

::

    GatewayError                 extensions.code
    ├── BadUserInput             BAD_USER_INPUT
    ├── NotFound                 NOT_FOUND
    ├── Conflict                 CONFLICT
    ├── Forbidden                FORBIDDEN
    └── NotConfigured            NOT_CONFIGURED   the feature needs an upstream this
                                                  deployment has no settings for

    Refused                      a whole request refused: an HTTP status and a code

``Refused`` is the one HTTP error of every surface (GraphQL over HTTP and
WebSocket, the embed endpoint, the ingest API, webhooks, exports), raised
before anything runs or is written; ``Refused.response`` is the one place it
becomes a response, in the surface's own shape.

Connector errors (``connectors.errors``) become ``UPSTREAM_*`` codes carrying the
connector's name, never the upstream's message. Anything else is a bug: clients
get a generic message and a request id; the log gets the request id and the
error's classes and location (``describe``), never its message, which can hold
SQL parameters, the document or personal data.
``format_errors`` is applied to every result the gateway sends (``gateway.app``).
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from graphql import GraphQLError
from starlette.responses import JSONResponse

from connectors.errors import ConnectorError

log = logging.getLogger("gateway.errors")


class GatewayError(Exception):
    """``extensions.field`` names what the client sent wrong, an input field or
    an argument (``first``, ``tags``, ``dueAt``); an argument is named in
    ``extensions.argument`` too, so a client reads one key either way."""

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extensions: object) -> None:
        super().__init__(message)
        self.message = message
        if "argument" in extensions:
            extensions.setdefault("field", extensions["argument"])
        self.extensions = extensions


class BadUserInput(GatewayError):
    code = "BAD_USER_INPUT"


class NotFound(GatewayError):
    code = "NOT_FOUND"


class Conflict(GatewayError):
    code = "CONFLICT"


class Forbidden(GatewayError):
    code = "FORBIDDEN"


class NotConfigured(GatewayError):
    code = "NOT_CONFIGURED"


Shape = Literal["graphql", "segment", "plain"]
"""How a surface writes a refusal: ``graphql`` ``{"errors": [{message,
extensions: {code, …}}]}`` (the GraphQL endpoints); ``segment``
``{"success": false, code, message}`` (the ingest API, what Segment's and
RudderStack's libraries read); ``plain`` ``{"error": message, "code": code}``
(webhooks and exports)."""


class Refused(Exception):
    """A request refused before anything ran or was written."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.extensions = dict(extensions or {})
        """Beside ``code`` in a GraphQL error (``argument``: what a FORBIDDEN names)."""

    def graphql_error(self) -> dict[str, object]:
        """The refusal as one GraphQL error (a WebSocket operation's ``error``
        carries it with the ``Retry-After`` HTTP would send as ``retryAfter``)."""
        return {
            "message": self.message,
            "extensions": {"code": self.code, **self.extensions},
        }

    def response(
        self, shape: Shape = "graphql", headers: Mapping[str, str] | None = None
    ) -> JSONResponse:
        """The answer in ``shape``; ``headers`` are the surface's defaults,
        under the refusal's own."""
        body: dict[str, object]
        if shape == "graphql":
            body = {"errors": [self.graphql_error()]}
        elif shape == "segment":
            body = {"success": False, "code": self.code, "message": self.message}
        else:
            body = {"error": self.message, "code": self.code}
        return JSONResponse(
            body, status_code=self.status, headers={**(headers or {}), **self.headers}
        )


def format_error(error: GraphQLError) -> GraphQLError:
    """Give every error a code and strip what a client must not see."""
    original = error.original_error
    if original is None:
        code = (error.extensions or {}).get("code") or _request_error_code(
            error.message
        )
        return _with(error, error.message, {**(error.extensions or {}), "code": code})
    if isinstance(original, GatewayError):
        return _with(
            error, original.message, {"code": original.code, **original.extensions}
        )
    if isinstance(original, ConnectorError):
        message = (
            f"The {original.connector} upstream could not answer ({original.code})."
        )
        return _with(
            error, message, {"code": original.code, "source": original.connector}
        )
    if isinstance(
        original, GraphQLError
    ):  # e.g. a variable graphql-core could not coerce
        code = _request_error_code(error.message)
        named = (
            {"field": error.extensions["field"]}
            if error.extensions and "field" in error.extensions
            else {}
        )
        return _with(error, error.message, {"code": code, **named})
    request_id = uuid.uuid4().hex
    log.error(
        "unexpected error %s at %s: %s", request_id, error.path, describe(original)
    )
    return _with(
        error,
        "Internal server error.",
        {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )


def describe(exc: BaseException) -> str:
    """An exception for a log line: its class and its causes' classes, and
    where ours raised it (``gateway/crm/customers.py:120 in create_customer``).

    Never the messages nor a traceback's: SQLAlchemy puts the statement and its
    parameters (emails, phones) in its message, graphql-core the document line
    and the variable's value, httpx the URL with its query string. The request
    id beside it finds the request; the location finds the code.
    """
    chain: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 4:
        chain.append(f"{type(current).__module__}.{type(current).__qualname__}")
        current = current.__cause__ or current.__context__
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename.startswith(OURS)]
    where = (ours or frames)[-1:] if frames else []
    located = "".join(
        f" at {_relative(f.filename)}:{f.lineno} in {f.name}" for f in where
    )
    return " caused by ".join(chain) + located


ROOT = Path(__file__).resolve().parent.parent
OURS = (str(ROOT / "gateway"), str(ROOT / "connectors"))


def _relative(filename: str) -> str:
    if filename.startswith(OURS):
        return str(Path(filename).relative_to(ROOT))
    return Path(filename).name


def _request_error_code(message: str) -> str:
    if message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if message.startswith("Variable '$"):
        return "BAD_USER_INPUT"
    if message.startswith("Value '") and message.endswith(" enum."):
        return "BAD_USER_INPUT"  # an enum value that does not exist, e.g. a kind
    return "GRAPHQL_VALIDATION_FAILED"


def _with(
    error: GraphQLError, message: str, extensions: dict[str, object]
) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


def format_errors(errors: list[GraphQLError] | None) -> list[GraphQLError] | None:
    return [format_error(e) for e in errors] if errors else errors
