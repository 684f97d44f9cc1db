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

from gateway.schema.text_inputs import name_refused_inputs

log = logging.getLogger("gateway.graphql")


class QuietErrors:
    """Mixed into every schema class (``strawberry.federation.Schema`` too):
    ``class FederatedSchema(QuietErrors, federation.Schema)``. graphql-core's
    refusals of a variable or an enum literal are given the field they name
    here (``name_refused_inputs``), where the document is at hand."""

    def process_errors(
        self,
        errors: list[GraphQLError],
        execution_context: ExecutionContext | None = None,
    ) -> None:
        if execution_context is not None:
            name_refused_inputs(
                errors,
                execution_context.graphql_document,
                execution_context.schema._schema,
                execution_context.operation_name,
            )
        for error in errors:
            cause = error.original_error or error
            log.debug("operation error %s at %s", type(cause).__name__, error.path)


class Schema(QuietErrors, strawberry.Schema):
    pass
