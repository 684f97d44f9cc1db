"""Errors sent beside the data: what resolvers put in ``context.errors``.

graphql-core only reports an error when a field raises, which would null the
whole field. The timeline instead serves what it has and reports each failed
source (``gateway.resolvers.timeline``); this extension adds those reports to
the result's ``errors``, where ``gateway.errors.format_errors`` gives them their
``UPSTREAM_*`` code and ``source``. Use it as ``extensions=[PartialErrors]``.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import ExecutionResult
from strawberry.extensions import SchemaExtension

from gateway.resolvers.context import Context


class PartialErrors(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        result = self.execution_context.result
        if (
            isinstance(context, Context)
            and context.errors
            and isinstance(result, ExecutionResult)
        ):
            result.errors = [*(result.errors or []), *context.errors]
