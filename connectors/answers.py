"""What an upstream's HTTP answer means: its status through the one status →
error table (``connectors.errors.error_for_status``), with the wait a 429 asks
for, and its body's JSON — only when declared JSON.

Each reading also names the outcome the request observer counts (``ok``,
``rate_limited``, ``error``, ``auth_error``, ``unavailable``, ``timeout``,
``bad_response``: ``RequestObserver``).
"""

from __future__ import annotations

from typing import Any

import httpx

from connectors.errors import (
    ConnectorError,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamUnavailable,
    error_for_status,
)
from connectors.retry import retry_after_seconds

JSON_TYPES = ("application/json", "+json")
"""``Content-Type`` media types a JSON answer may carry (``application/*+json`` too)."""


def status_error(
    connector: str, response: httpx.Response
) -> tuple[ConnectorError, str]:
    """The error of an answer with a status of 400 or more, and its outcome."""
    error = error_for_status(connector, response.status_code)
    if isinstance(error, UpstreamRateLimited):
        error.retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        return error, "rate_limited"
    if isinstance(error, UpstreamUnavailable):
        return error, "unavailable"
    if error.code == "UPSTREAM_AUTH":
        return error, "auth_error"
    return error, "error"


def decode_json(connector: str, response: httpx.Response) -> Any:
    """The body's JSON; ``UpstreamBadResponse`` unless it is JSON, declared
    as such (an HTML error page or a login form answered 200 is not)."""
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    if not media_type.lower().endswith(JSON_TYPES):
        raise UpstreamBadResponse(connector, f"content type {media_type or 'none'!r}")
    try:
        return response.json()
    except ValueError as exc:
        raise UpstreamBadResponse(connector, "response is not JSON") from exc
