"""Letting a caller in: the failed-login throttle, who is asking (``admit``),
and whether they have a rate-limit token left (``take_token``).

One place for the 401 and 429 rules, shared by ``/graphql`` (HTTP and
WebSocket), ``/embed/graphql`` and the segment exports; each endpoint writes
the refusal in its own response format.

Failed authentications are counted per client address (``LoginThrottle``, a
token bucket: Redis-shared like the rate limit). Once an address has none
left, its requests are 429 before their credentials are even read, so
guessing keys costs the guesser time and the database nothing; a request
that authenticates costs no round trip to Redis for it. The address
is ``request.client``: behind a load balancer set ``FORWARDED_ALLOW_IPS`` to
the balancer's address (uvicorn's ``--forwarded-allow-ips``) so it is the
client's own, not the balancer's (else one guesser throttles everyone behind
it); ``X-Forwarded-For`` is never read here, so it cannot be forged to dodge
the throttle.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

from starlette.requests import HTTPConnection

from gateway.auth.principal import Principal
from gateway.auth.ratelimit import RateLimiter, retry_after
from gateway.errors import Refused

UNAUTHENTICATED = "Send an API key or token: Authorization: Bearer <credentials>."
REJECTED = "The API key or token was not accepted: unknown, revoked or expired."
TOO_MANY_FAILURES = "Too many failed authentications from this address; retry later."


def client_address(connection: HTTPConnection) -> str:
    """The peer as the server saw it (the proxy-resolved one under
    ``--forwarded-allow-ips``)."""
    return connection.client.host if connection.client is not None else "unknown"


class LoginThrottle:
    """Failed authentications per client address: a token bucket (shared by
    replicas through Redis), and the addresses found out of tokens remembered
    here until it refills — so a blocked address is refused before its
    credentials are read, and an admitted request costs no extra round trip."""

    def __init__(self, bucket: RateLimiter) -> None:
        self.bucket = bucket
        self._blocked: dict[str, float] = {}

    def blocked_for(self, address: str) -> float:
        """Seconds until ``address`` may try again; 0 when it may now."""
        until = self._blocked.get(address)
        if until is None:
            return 0.0
        left = until - time.monotonic()
        if left <= 0:
            del self._blocked[address]
        return max(left, 0.0)

    async def failed(self, address: str) -> float:
        """Count a failure; the seconds ``address`` is blocked for, if now."""
        wait = await self.bucket.take(f"authfail:{address}")
        if wait:
            if len(self._blocked) > _BLOCKED_ADDRESSES:
                self._blocked.clear()
            self._blocked[address] = time.monotonic() + wait
        return wait


_BLOCKED_ADDRESSES = 100_000


async def admit(
    identify: Callable[[], Awaitable[Principal | None]],
    throttle: LoginThrottle,
    address: str,
    *,
    credentials: str | None,
    unauthenticated: str = UNAUTHENTICATED,
    rejected: str = REJECTED,
    challenge: str = "Bearer",
) -> Principal:
    """The caller ``identify`` finds (from ``credentials``, the
    ``Authorization`` sent), unless ``address`` failed too often."""
    wait = throttle.blocked_for(address)
    if not wait:
        principal = await identify()
        if principal is not None:
            return principal
        wait = await throttle.failed(address)
        if not wait:
            header, message = _refusal(credentials, challenge)
            raise Refused(
                401,
                "UNAUTHENTICATED",
                rejected if message is REJECTED else unauthenticated,
                headers={"WWW-Authenticate": header},
            )
    raise Refused(
        429,
        "RATE_LIMITED",
        TOO_MANY_FAILURES,
        headers={"Retry-After": retry_after(wait)},
    )


def _refusal(credentials: str | None, challenge: str) -> tuple[str, str]:
    """The ``WWW-Authenticate`` of a refusal (RFC 6750 § 3.1), and which
    message it gets: none sent, or another scheme's, is told what to send
    (no error code); the scheme without a token is ``invalid_request``;
    a token not accepted — unknown, revoked, expired, or not verifying —
    ``invalid_token``, its message saying so, never what was wrong."""
    scheme, _, token = (credentials or "").strip().partition(" ")
    if scheme.lower() != challenge.lower():
        return challenge, UNAUTHENTICATED
    if not token.strip():
        return f'{challenge} error="invalid_request"', UNAUTHENTICATED
    return f'{challenge} error="invalid_token"', REJECTED


async def take_token(
    limiter: RateLimiter, principal: Principal, reading: Sequence[str] = ()
) -> list[bytes | None] | None:
    """One request (or socket operation) of the caller's rate limit; with it,
    in the same round trip where it can be, the values at ``reading``
    (``None``: not read)."""
    wait, values = await limiter.take_reading(principal.rate_key, reading)
    if wait:
        raise Refused(
            429,
            "RATE_LIMITED",
            "Too many requests; retry later.",
            headers={"Retry-After": retry_after(wait)},
        )
    return values
