"""From an ``Authorization`` header to a ``Principal``, or a refusal.

``Bearer cg_…`` is an API key; any other bearer value is a JWT (when JWTs are
configured); ``CG_DEMO_API_KEY`` is an admin key that needs no database row.
Valid API keys are remembered for a few seconds, so a busy client does not
cost a database read per request; revocation takes effect within that time.
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

    async def authenticate(self, authorization: str | None) -> Principal | None:
        """The caller, or ``None`` when the credentials are missing or invalid."""
        if not authorization:
            return None
        scheme, _, credentials = authorization.strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() != "bearer" or not credentials:
            return None
        if credentials.startswith(PREFIX):
            return await self._api_key(credentials)
        if self.tokens.enabled:
            claims = await self.tokens.verify(credentials)
            if claims is not None:
                subject = f"jwt:{claims.subject}"
                return Principal(subject=subject, role=claims.role, rate_key=subject)
        return None

    async def _api_key(self, key: str) -> Principal | None:
        if self.demo_key and hmac.compare_digest(key, self.demo_key):
            return Principal(subject="key:demo", role=Role.ADMIN, rate_key="key:demo")
        hashed = digest(key)
        now = time.monotonic()
        remembered = self._keys.get(hashed)
        if remembered is not None and remembered[0] > now:
            info = remembered[1]
        else:
            info = await find_key(self.sessions, key)
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[hashed] = (now + KEY_MEMORY_SECONDS, info)
        if info is None:
            return None
        subject = f"key:{info.name}"
        return Principal(subject=subject, role=info.role, rate_key=subject)
