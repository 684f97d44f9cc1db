"""Embed tokens: what lets another tool show one customer's timeline.

A token is ``<payload>.<signature>``, both url-safe base64: the payload is JSON
``{"c": customer id, "s": sources or null, "e": expiry (unix seconds), "b":
the customer's creation (unix microseconds)}`` and the signature HMAC-SHA256
over it with ``CG_SECRET_KEY``. ``b`` ties the token to that customer, not to
its id: an id an erased customer leaves is reused by SQLite, and the token of
the erased one must not read the next (tokens minted before ``b`` have none).
It grants one thing only: reading that customer's timeline (of those
sources) until it expires. There is no server-side state, so a token cannot
be revoked early: keep TTLs short.

``embed_scope`` is the one check; the embed endpoint uses it, and the API's
authentication can call it for an ``embed`` role.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from gateway.relay.ids import MAX_KEY

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
    born: int | None = None
    """The customer's creation (unix microseconds); ``None`` in older tokens."""

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
    born: datetime | None = None,
) -> tuple[str, datetime]:
    """A token and when it expires; ``ttl_seconds`` must be 1 to ``MAX_TTL``;
    ``born``: the customer's creation, which the token is then tied to."""
    if not 0 < ttl_seconds <= MAX_TTL:
        raise ValueError(f"ttl_seconds must be 1 to {MAX_TTL}")
    expires = int((time.time() if now is None else now) + ttl_seconds)
    body: dict[str, object] = {
        "c": customer_id,
        "s": sorted(sources) if sources else None,
        "e": expires,
    }
    if born is not None:
        body["b"] = micros(born)
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
        customer_id, sources, expires = body["c"], body["s"], body["e"]
        born = body.get("b")
        if not (_key(customer_id) and _sources(sources) and _key(expires)):
            raise ValueError("not the claims create_token writes")
        if born is not None and not _key(born):
            raise ValueError("not the claims create_token writes")
        expires_at = datetime.fromtimestamp(expires, UTC)
    except (ValueError, KeyError, TypeError, OverflowError, OSError) as exc:
        # binascii.Error is a ValueError; OSError: fromtimestamp on some systems
        raise EmbedTokenError("malformed embed token") from exc
    if expires <= (time.time() if now is None else now):
        raise EmbedTokenError("expired embed token")
    return EmbedScope(
        customer_id=customer_id,
        sources=frozenset(sources) if sources else None,
        expires_at=expires_at,
        born=born,
    )


def micros(moment: datetime) -> int:
    """``moment`` in unix microseconds (a token's ``b``)."""
    return round(moment.timestamp() * 1_000_000)


def _key(value: object) -> bool:
    """A positive ``int`` a ``BIGINT`` holds (a customer id, unix seconds):
    the signature proves who minted a token, not that its claims are sane."""
    return type(value) is int and 0 < value <= MAX_KEY


def _sources(value: object) -> bool:
    return value is None or (
        isinstance(value, list) and all(isinstance(s, str) for s in value)
    )


def token_from_header(authorization: str | None) -> str | None:
    """The token of ``Authorization: Embed <token>``."""
    if authorization and authorization[:6].lower() == "embed ":
        return authorization[6:].strip()
    return None
