"""JWT bearer tokens: HS256 with a shared secret, or RS256/ES256 verified
against the identity provider's JWKS (fetched once, then cached).

``exp``, ``aud`` and ``iss`` are required and checked; the role comes from a
configured claim (a string or a list, the first known role wins). ``embed`` is
not a role a JWT can carry (``GRANTABLE_ROLES``): it is ignored like an unknown
one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import jwt
from jwt import PyJWKClient

from gateway.auth.policy import GRANTABLE_ROLES, Role


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str
    role: Role


class TokenVerifier:
    def __init__(
        self,
        *,
        secret: str | None,
        jwks_url: str | None,
        audience: str | None,
        issuer: str | None,
        roles_claim: str,
    ) -> None:
        self.secret = secret
        self.jwks = (
            PyJWKClient(jwks_url, cache_keys=True, lifespan=3600) if jwks_url else None
        )
        self.audience = audience
        self.issuer = issuer
        self.roles_claim = roles_claim

    @property
    def enabled(self) -> bool:
        return self.secret is not None or self.jwks is not None

    async def verify(self, token: str) -> TokenClaims | None:
        """The token's subject and role, or ``None`` if it is not acceptable."""
        try:
            header = jwt.get_unverified_header(token)
            algorithm = header.get("alg")
            if algorithm == "HS256" and self.secret:
                key: object = self.secret
            elif algorithm in ("RS256", "ES256") and self.jwks is not None:
                signing = await asyncio.to_thread(
                    self.jwks.get_signing_key_from_jwt, token
                )
                key = signing.key
            else:
                return None
            claims = jwt.decode(
                token,
                key,  # type: ignore[arg-type]
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "require": [
                        "exp",
                        "sub",
                        *(["aud"] if self.audience else []),
                        *(["iss"] if self.issuer else []),
                    ]
                },
            )
        except (jwt.PyJWTError, ValueError):
            return None
        role = _role(claims.get(self.roles_claim))
        if role is None:
            return None
        return TokenClaims(subject=str(claims["sub"]), role=role)


def _role(value: object) -> Role | None:
    candidates = value if isinstance(value, list) else [value]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate in GRANTABLE_ROLES:
            return Role(candidate)
    return None
