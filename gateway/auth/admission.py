"""Letting a request in: who is asking, and whether they have a token left.

One place for the 401 and 429 rules, shared by ``/graphql`` and the segment
exports; each endpoint writes the refusal in its own response format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.auth.authenticate import Authenticator
from gateway.auth.principal import Principal
from gateway.auth.ratelimit import RateLimiter, retry_after

UNAUTHENTICATED = "Send an API key or token: Authorization: Bearer <credentials>."


@dataclass
class Refusal(Exception):
    status: int
    code: str
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)


async def admit(
    auth: Authenticator, limiter: RateLimiter, authorization: str | None
) -> Principal:
    """The caller, once authenticated and within their rate limit."""
    principal = await auth.authenticate(authorization)
    if principal is None:
        raise Refusal(
            401, "UNAUTHENTICATED", UNAUTHENTICATED, {"WWW-Authenticate": "Bearer"}
        )
    wait = await limiter.take(principal.rate_key)
    if wait:
        raise Refusal(
            429,
            "RATE_LIMITED",
            "Too many requests; retry later.",
            {"Retry-After": retry_after(wait)},
        )
    return principal
