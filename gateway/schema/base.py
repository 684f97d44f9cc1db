"""The gateway's ``strawberry.Schema``: Strawberry's, with errors logged by
class and path only.

Strawberry logs every error of a result on ``strawberry.execution`` with its
message and traceback — the message of a variable error holds the variable's
value (an email), its text the document line, and a resolver's traceback the
SQL and its parameters. Here each error is one debug line; unexpected errors
are logged once, with the request id the client got, by
``gateway.errors.format_error``.
"""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext

log = logging.getLogger("gateway.graphql")


class QuietErrors:
    """Mixed into every schema class (``strawberry.federation.Schema`` too):
    ``class FederatedSchema(QuietErrors, federation.Schema)``."""

    def process_errors(
        self,
        errors: list[GraphQLError],
        execution_context: ExecutionContext | None = None,
    ) -> None:
        for error in errors:
            cause = error.original_error or error
            log.debug("operation error %s at %s", type(cause).__name__, error.path)


class Schema(QuietErrors, strawberry.Schema):
    pass
