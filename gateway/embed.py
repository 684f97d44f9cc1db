"""Embed tokens: what lets another tool show one customer's timeline.

A token is ``<payload>.<signature>``, both url-safe base64: the payload is JSON
``{"c": customer id, "s": sources or null, "e": expiry (unix seconds)}`` and the
signature HMAC-SHA256 over it with ``CG_SECRET_KEY``. It grants one thing only:
reading that customer's timeline (of those sources) until it expires. There is
no server-side state, so a token cannot be revoked early: keep TTLs short.

``embed_scope`` is the one check; the embed endpoint uses it, and the API's
authentication can call it for an ``embed`` role.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

MAX_TTL = 7 * 24 * 3600
"""A week: long enough for a sidebar session, short enough to expire."""


class EmbedTokenError(Exception):
    """The token is missing, malformed, forged or expired: 401."""


@dataclass(frozen=True, slots=True)
class EmbedScope:
    customer_id: int
    sources: frozenset[str] | None
    """``None``: every source."""
    expires_at: datetime

    def allows(self, customer_id: int) -> bool:
        return customer_id == self.customer_id


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), b"embed." + payload.encode(), hashlib.sha256)
    return _b64(digest.digest())


def create_token(
    secret: str,
    customer_id: int,
    ttl_seconds: int,
    sources: Collection[str] | None = None,
    *,
    now: float | None = None,
) -> tuple[str, datetime]:
    """A token and when it expires; ``ttl_seconds`` must be 1 to ``MAX_TTL``."""
    if not 0 < ttl_seconds <= MAX_TTL:
        raise ValueError(f"ttl_seconds must be 1 to {MAX_TTL}")
    expires = int((time.time() if now is None else now) + ttl_seconds)
    body = {"c": customer_id, "s": sorted(sources) if sources else None, "e": expires}
    payload = _b64(orjson.dumps(body))
    return f"{payload}.{_sign(secret, payload)}", datetime.fromtimestamp(expires, UTC)


def embed_scope(
    secret: str, token: str | None, *, now: float | None = None
) -> EmbedScope:
    """What ``token`` grants; ``EmbedTokenError`` unless it is ours and current."""
    if not token or token.count(".") != 1 or not token.isascii():
        raise EmbedTokenError("missing or malformed embed token")
    payload, signature = token.split(".")
    if not hmac.compare_digest(signature, _sign(secret, payload)):
        raise EmbedTokenError("bad embed token signature")
    try:
        body = orjson.loads(_unb64(payload))
        customer_id, sources, expires = int(body["c"]), body["s"], int(body["e"])
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise EmbedTokenError("malformed embed token") from exc
    if expires <= (time.time() if now is None else now):
        raise EmbedTokenError("expired embed token")
    return EmbedScope(
        customer_id=customer_id,
        sources=frozenset(map(str, sources)) if sources else None,
        expires_at=datetime.fromtimestamp(expires, UTC),
    )


def token_from_header(authorization: str | None) -> str | None:
    """The token of ``Authorization: Embed <token>``."""
    if authorization and authorization[:6].lower() == "embed ":
        return authorization[6:].strip()
    return None
