"""Errors the gateway shows to clients, and the one place that formats them.

::

    GatewayError                 extensions.code
    ├── BadUserInput             BAD_USER_INPUT
    ├── NotFound                 NOT_FOUND
    ├── Conflict                 CONFLICT
    └── Forbidden                FORBIDDEN

Connector errors (``connectors.errors``) become ``UPSTREAM_*`` codes carrying the
connector's name, never the upstream's message. Anything else is a bug: clients
get a generic message and a request id; the details go to the log only.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from connectors.errors import ConnectorError

log = logging.getLogger("gateway.errors")


class GatewayError(Exception):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extensions: object) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = extensions


class BadUserInput(GatewayError):
    code = "BAD_USER_INPUT"


class NotFound(GatewayError):
    code = "NOT_FOUND"


class Conflict(GatewayError):
    code = "CONFLICT"


class Forbidden(GatewayError):
    code = "FORBIDDEN"


def format_error(error: GraphQLError) -> GraphQLError:
    """Give every error a code and strip what a client must not see."""
    original = error.original_error
    if original is None:
        code = (error.extensions or {}).get("code") or "GRAPHQL_VALIDATION_FAILED"
        return _with(error, error.message, {**(error.extensions or {}), "code": code})
    if isinstance(original, GatewayError):
        return _with(error, original.message, {"code": original.code, **original.extensions})
    if isinstance(original, ConnectorError):
        message = f"The {original.connector} upstream could not answer ({original.code})."
        return _with(error, message, {"code": original.code, "source": original.connector})
    if isinstance(original, GraphQLError):
        return format_error(original)
    request_id = uuid.uuid4().hex
    log.error(
        "unexpected error %s at %s",
        request_id,
        error.path,
        exc_info=(type(original), original, original.__traceback__),
    )
    return _with(
        error,
        "Internal server error.",
        {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )


def _with(error: GraphQLError, message: str, extensions: dict[str, object]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


class ErrorCodes(SchemaExtension):
    """Schema extension: runs ``format_error`` over every error of a result.

    ``schema = strawberry.Schema(..., extensions=[ErrorCodes])``
    """

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [format_error(e) for e in result.errors]
