"""PostHog's error answers: drf-exceptions-hog's envelope
``{"type", "code", "detail", "attr"}`` (PostHog's DRF exception handler,
posthog/settings/web.py), with the status, type and code DRF gives each error.
"""

from __future__ import annotations

import math

from starlette.responses import JSONResponse

_ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("validation_error", "invalid_input", "Invalid input."),
    401: (
        "authentication_error",
        "authentication_failed",
        "Personal API key found in request Authorization header is invalid.",
    ),
    403: (
        "authentication_error",
        "permission_denied",
        "You do not have permission to perform this action.",
    ),
    404: ("invalid_request", "not_found", "Not found."),
}
TIMED_OUT = (
    "Query has hit the max execution time before completing. See our docs for how"
    " to improve your query performance. You may need to materialize."
)
"""posthog/exceptions.py ``ClickHouseQueryTimeOut`` (504)."""


def error(
    status: int, detail: str | None = None, code: str | None = None
) -> JSONResponse:
    kind, default_code, default = _ERRORS.get(
        status, ("server_error", "error", "A server error occurred.")
    )
    body = {"type": kind, "code": code or default_code, "detail": detail or default}
    return JSONResponse({**body, "attr": None}, status_code=status)


def throttled(wait: float | None) -> JSONResponse:
    """DRF's ``Throttled(wait)`` as drf-exceptions-hog answers it: the wait
    rounded up in the detail and in ``Retry-After``, which a zero or unknown
    wait leaves out (exceptions_hog/handler.py)."""
    detail, headers = "Request was throttled.", {}
    if wait is not None:
        seconds = math.ceil(wait)
        detail += f" Expected available in {seconds} second{'s' * (seconds != 1)}."
        if seconds:
            headers["Retry-After"] = str(seconds)
    body = {"type": "throttled_error", "code": "throttled", "detail": detail}
    return JSONResponse({**body, "attr": None}, status_code=429, headers=headers)
