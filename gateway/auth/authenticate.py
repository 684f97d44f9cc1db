"""From an ``Authorization`` header to a ``Principal``, or a refusal.

``Bearer cg_…`` is an API key; any other bearer value is a JWT (when JWTs are
configured); ``CG_DEMO_API_KEY`` is an admin key that needs no database row.
Valid API keys are remembered for a few seconds, so a busy client does not
cost a database read per request; revocation (a row in the shared database,
so every replica sees it) takes effect within that time. Open WebSockets ask
again with ``max_age`` (``gateway.http.socket``). Any header value —
non-ASCII, huge, not a scheme we know — is ``None``, never an exception.
"""

from __future__ import annotations

import hmac
import time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.auth.keys import PREFIX, KeyInfo, digest, find_key
from gateway.auth.policy import Role
from gateway.auth.principal import Principal
from gateway.auth.tokens import TokenVerifier

KEY_MEMORY_SECONDS = 10.0
MAX_CREDENTIALS = 8192
"""Longer ``Authorization`` values are no credentials of ours (a JWT with a
few claims is well under 2 KB): refused before any parsing."""


class Authenticator:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        tokens: TokenVerifier,
        demo_key: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.tokens = tokens
        self.demo_key = demo_key
        self._keys: dict[str, tuple[float, KeyInfo | None]] = {}
        """Key hash → (when it was read, what was read)."""

    async def authenticate(
        self, authorization: str | None, *, max_age: float = KEY_MEMORY_SECONDS
    ) -> Principal | None:
        """The caller, or ``None`` when the credentials are missing or invalid;
        an API key remembered longer than ``max_age`` seconds ago is read again."""
        if not authorization or len(authorization) > MAX_CREDENTIALS:
            return None
        scheme, _, credentials = authorization.strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() != "bearer" or not credentials or not credentials.isascii():
            return None  # keys and JWTs are ASCII: nothing else need be parsed
        if credentials.startswith(PREFIX):
            return await self._api_key(credentials, max_age)
        if self.tokens.enabled:
            claims = await self.tokens.verify(credentials)
            if claims is not None:
                subject = f"jwt:{claims.subject}"
                return Principal(
                    subject=subject,
                    role=claims.role,
                    rate_key=subject,
                    expires_at=claims.expires_at,
                )
        return None

    async def _api_key(self, key: str, max_age: float) -> Principal | None:
        if self.demo_key and hmac.compare_digest(key.encode(), self.demo_key.encode()):
            return Principal(subject="key:demo", role=Role.ADMIN, rate_key="key:demo")
        hashed = digest(key)
        now = time.monotonic()
        remembered = self._keys.get(hashed)
        if remembered is not None and now - remembered[0] < min(
            max_age, KEY_MEMORY_SECONDS
        ):
            info = remembered[1]
        else:
            info = await find_key(self.sessions, key)
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[hashed] = (now, info)
        if info is None:
            return None
        subject = f"key:{info.name}"
        return Principal(
            subject=subject,
            role=info.role,
            rate_key=subject,
            expires_at=info.expires_at,
        )
