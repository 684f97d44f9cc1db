"""The one error tree of every connector.

::

    ConnectorError              (carries the connector's name)
    ├── UpstreamAuthError       UPSTREAM_AUTH          401/403: fatal, never retried
    ├── UpstreamForbidden       UPSTREAM_FORBIDDEN     the credentials lack a scope
    │                                                  for this data (Shopify
    │                                                  ACCESS_DENIED): fatal for that
    │                                                  data only
    ├── UpstreamNotFound        UPSTREAM_NOT_FOUND     404 on a single-resource read
    ├── UpstreamRateLimited     UPSTREAM_RATE_LIMITED  429 / THROTTLED: retried
    │                                                  after ``retry_after``
    ├── UpstreamUnavailable     UPSTREAM_UNAVAILABLE   5xx, connection errors: retried
    ├── UpstreamTimeout         UPSTREAM_TIMEOUT       the call's deadline ran out
    │                                                  (a hung or slow upstream)
    ├── UpstreamBadResponse     UPSTREAM_BAD_RESPONSE  an answer we cannot read: not
    │                                                  JSON or not declared JSON, a
    │                                                  truncated body, an HTML page,
    │                                                  a 200 carrying errors, a shape
    │                                                  we do not know, a repeated
    │                                                  page cursor
    ├── UpstreamRejected        UPSTREAM_REJECTED      a write's input refused
    │                                                  (Shopify ``userErrors``): fatal;
    │                                                  ``rejections`` say why
    └── UpstreamNotSent                                held back by the gateway's
        │                                              guard, never sent:
        ├── UpstreamBudgetSpent UPSTREAM_RATE_LIMITED  this gateway's share of the
        │                                              vendor's limit is spent
        └── UpstreamCircuitOpen UPSTREAM_UNAVAILABLE   the upstream failed
                                                       repeatedly: its breaker is open

``transient`` says whether the upstream may well answer later (everything but
auth, forbidden and not-found): a cache may then serve its last good value
instead of the error. Upstream messages stay in ``detail`` for the logs; the
gateway shows clients only the code and the connector name.
"""

from __future__ import annotations

from dataclasses import dataclass


class ConnectorError(Exception):
    code = "UPSTREAM_ERROR"
    retriable = False
    """Worth sending again within the same call (after a wait)."""
    transient = True
    """The upstream may answer later: a last good value may stand in."""

    def __init__(self, connector: str, detail: str = "") -> None:
        super().__init__(f"{connector}: {detail}" if detail else connector)
        self.connector = connector
        self.detail = detail


class UpstreamAuthError(ConnectorError):
    code = "UPSTREAM_AUTH"
    transient = False


class UpstreamForbidden(ConnectorError):
    """The upstream answered, but the app may not read this data (``scope``:
    what it lacks, when known). The rest of a read still answers; the field
    is null."""

    code = "UPSTREAM_FORBIDDEN"
    transient = False

    def __init__(
        self, connector: str, detail: str = "", scope: str | None = None
    ) -> None:
        super().__init__(connector, detail)
        self.scope = scope


class UpstreamNotFound(ConnectorError):
    code = "UPSTREAM_NOT_FOUND"
    transient = False


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


class UpstreamTimeout(ConnectorError):
    code = "UPSTREAM_TIMEOUT"


class UpstreamBadResponse(ConnectorError):
    code = "UPSTREAM_BAD_RESPONSE"


@dataclass(frozen=True, slots=True)
class Rejection:
    """One reason an upstream gave for refusing a write: the input field by its
    path (``("basicCodeDiscount", "code")``), its code (``TAKEN``) and message."""

    field: tuple[str, ...]
    code: str | None
    message: str


class UpstreamRejected(ConnectorError):
    """The upstream answered and refused the write's input: sending it again
    changes nothing. The messages are the upstream's, about our input."""

    code = "UPSTREAM_REJECTED"
    transient = False

    def __init__(self, connector: str, rejections: tuple[Rejection, ...]) -> None:
        super().__init__(connector, "; ".join(r.message for r in rejections))
        self.rejections = rejections


class UpstreamNotSent(ConnectorError):
    """A call the guard refused before sending it (``connectors.scope.CallGuard``)."""


class UpstreamBudgetSpent(UpstreamNotSent):
    code = "UPSTREAM_RATE_LIMITED"

    def __init__(
        self, connector: str, detail: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(connector, detail)
        self.retry_after = retry_after
        """Seconds until the budget could cover the call (``inf``: never)."""


class UpstreamCircuitOpen(UpstreamNotSent):
    code = "UPSTREAM_UNAVAILABLE"


def error_for_status(connector: str, status: int, detail: str = "") -> ConnectorError:
    """The one status → error table shared by all connectors (statuses below
    400 are answers; what their bodies hold is ``decode_json``'s to judge)."""
    if status in (401, 403):
        return UpstreamAuthError(connector, f"HTTP {status} {detail}".strip())
    if status == 404:
        return UpstreamNotFound(connector, detail or "HTTP 404")
    if status == 429:
        return UpstreamRateLimited(connector, detail or "HTTP 429")
    if status >= 500:
        return UpstreamUnavailable(connector, f"HTTP {status} {detail}".strip())
    return UpstreamBadResponse(connector, f"HTTP {status} {detail}".strip())
