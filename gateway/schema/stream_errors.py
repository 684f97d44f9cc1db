"""Errors of streamed results (subscriptions over WebSocket) get the same codes
as HTTP ones: the HTTP view formats in ``process_result``, which the WebSocket
transport never calls. Use it as ``extensions=[FormatStreamErrors]``."""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult

from gateway.errors import format_errors


class FormatStreamErrors(SchemaExtension):
    def on_stream_result(self, result: ExecutionResult) -> Iterator[None]:  # type: ignore[override]
        result.errors = format_errors(result.errors)
        yield
