"""What an upstream's HTTP answer means: its status through the one status →
error table (``connectors.errors.error_for_status``), with the wait a 429 asks
for, its body's JSON — only when declared JSON — and that JSON read by a
mapping or a connector (``reads_answers``): a field missing, renamed or of
another type is an answer we cannot read, like malformed JSON.

Each reading also names the outcome the request observer counts (``ok``,
``rate_limited``, ``error``, ``auth_error``, ``unavailable``, ``timeout``,
``bad_response``: ``RequestObserver``).
"""

from __future__ import annotations

import codecs
import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import orjson

from connectors.errors import (
    ConnectorError,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamUnavailable,
    error_for_status,
)
from connectors.retry import retry_after_seconds

F = TypeVar("F", bound=Callable[..., Any])

JSON_TYPES = ("application/json", "+json")
"""``Content-Type`` media types a JSON answer may carry (``application/*+json`` too)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """An upstream's HTTP answer, its body read whole."""

    status_code: int
    headers: Mapping[str, str]
    """Looked up by lower-case name: an HTTP client's headers match any case."""
    content: bytes


def status_error(connector: str, response: Answer) -> tuple[ConnectorError, str]:
    """The error of an answer with a status of 400 or more, and its outcome."""
    error = error_for_status(connector, response.status_code)
    if isinstance(error, UpstreamRateLimited):
        error.retry_after = retry_after_seconds(response.headers.get("retry-after"))
        return error, "rate_limited"
    if isinstance(error, UpstreamUnavailable):
        return error, "unavailable"
    if error.code == "UPSTREAM_AUTH":
        return error, "auth_error"
    return error, "error"


def decode_json(connector: str, response: Answer) -> Any:
    """The body's JSON; ``UpstreamBadResponse`` unless it is JSON, declared
    as such (an HTML error page or a login form answered 200 is not)."""
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    if not media_type.lower().endswith(JSON_TYPES):
        raise UpstreamBadResponse(connector, f"content type {media_type or 'none'!r}")
    try:
        # orjson: the stdlib's decoder was ~5 % of an uncached 360 view's CPU.
        # Its error is a ValueError; it refuses NaN and Infinity, as JSON does,
        # and a byte order mark, which the stdlib's bytes decoding skipped.
        return orjson.loads(response.content.removeprefix(codecs.BOM_UTF8))
    except ValueError as exc:
        raise UpstreamBadResponse(connector, "response is not JSON") from exc


SHAPE_ERRORS = (
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    ValueError,
    ArithmeticError,
)
"""What reading JSON of an unexpected shape raises: a field missing
(``KeyError``), a row too short, ``None`` or a list where an object belongs,
a text that is not a time or an amount (``decimal.InvalidOperation`` is an
``ArithmeticError``)."""


def reads_answers(connector: str) -> Callable[[F], F]:
    """Mark what reads upstream JSON — a mapping's entry point (JSON →
    canonical model), a connector's read (its answers walked, then mapped):
    an answer of a shape it does not know raises ``UpstreamBadResponse``, so
    the source's fields are null (or stale) with ``UPSTREAM_BAD_RESPONSE``,
    the rest of the query answers and nothing is cached — not an internal
    error. The detail (for the logs) names the function, the exception type
    and a missing key, never a value: values may be personal data."""

    def bad_response(read: Callable[..., Any], exc: Exception) -> UpstreamBadResponse:
        missing = f" {exc.args[0]!r}" if isinstance(exc, KeyError) else ""
        detail = f"{read.__name__}: {type(exc).__name__}{missing}"
        return UpstreamBadResponse(connector, detail)

    def mark(read: F) -> F:
        if inspect.iscoroutinefunction(read):

            @functools.wraps(read)
            async def guarded_call(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await read(*args, **kwargs)
                except SHAPE_ERRORS as exc:
                    raise bad_response(read, exc) from exc

            return cast(F, guarded_call)

        @functools.wraps(read)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return read(*args, **kwargs)
            except SHAPE_ERRORS as exc:
                raise bad_response(read, exc) from exc

        return cast(F, guarded)

    return mark
