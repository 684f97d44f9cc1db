"""The one error tree of every connector.

::

    ConnectorError                 (carries the connector's name)
    ├── UpstreamAuthError          401/403: fatal, never retried
    ├── UpstreamForbidden          the credentials lack a scope for this data
    │                              (Shopify ACCESS_DENIED): fatal for that data only
    ├── UpstreamNotFound           404 on a single-resource read
    ├── UpstreamRateLimited        429 / THROTTLED: retriable after ``retry_after``
    ├── UpstreamUnavailable        5xx, timeouts, connection errors: retriable
    └── UpstreamProtocolError      a response we cannot read (shape, repeated cursor)

Upstream messages stay in ``detail`` for the logs; the gateway shows clients only
the code and the connector name.
"""

from __future__ import annotations


class ConnectorError(Exception):
    code = "UPSTREAM_ERROR"
    retriable = False

    def __init__(self, connector: str, detail: str = "") -> None:
        super().__init__(f"{connector}: {detail}" if detail else connector)
        self.connector = connector
        self.detail = detail


class UpstreamAuthError(ConnectorError):
    code = "UPSTREAM_AUTH"


class UpstreamForbidden(ConnectorError):
    """The upstream answered, but the app may not read this data (``scope``:
    what it lacks, when known). The rest of a read still answers; the field
    is null."""

    code = "UPSTREAM_FORBIDDEN"

    def __init__(
        self, connector: str, detail: str = "", scope: str | None = None
    ) -> None:
        super().__init__(connector, detail)
        self.scope = scope


class UpstreamNotFound(ConnectorError):
    code = "UPSTREAM_NOT_FOUND"


class UpstreamRateLimited(ConnectorError):
    code = "UPSTREAM_RATE_LIMITED"
    retriable = True

    def __init__(
        self, connector: str, detail: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(connector, detail)
        self.retry_after = retry_after


class UpstreamUnavailable(ConnectorError):
    code = "UPSTREAM_UNAVAILABLE"
    retriable = True


class UpstreamProtocolError(ConnectorError):
    code = "UPSTREAM_PROTOCOL"


def error_for_status(connector: str, status: int, detail: str = "") -> ConnectorError:
    """The one status → error table shared by all connectors."""
    if status in (401, 403):
        return UpstreamAuthError(connector, f"HTTP {status} {detail}".strip())
    if status == 404:
        return UpstreamNotFound(connector, detail or "HTTP 404")
    if status == 429:
        return UpstreamRateLimited(connector, detail or "HTTP 429")
    if status >= 500:
        return UpstreamUnavailable(connector, f"HTTP {status} {detail}".strip())
    return UpstreamProtocolError(connector, f"HTTP {status} {detail}".strip())
