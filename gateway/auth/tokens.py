"""JWT bearer tokens: HS256 with a shared secret, or RS256/ES256 verified
against the identity provider's JWKS (fetched once, then cached).

``exp``, ``aud`` and ``iss`` are required and checked; the role comes from a
configured claim (a string or a list, the first known role wins). ``embed`` is
not a role a JWT can carry (``GRANTABLE_ROLES``): it is ignored like an unknown
one. Whatever the bearer value — not base64, not JSON, ``alg: none``, an
algorithm that does not fit the key its ``kid`` names, an unreachable JWKS —
the answer is ``None`` (401), never an exception.

What a token says is stored (``jwt:<sub>`` is the audit log's subject, a
note's author), so the claims are checked too: ``sub`` a string of 1 to
``MAX_SUBJECT_CHARS`` printable characters (a NUL cannot be stored in
PostgreSQL text: an audit batch holding one failed whole), ``exp`` a time a
``datetime`` can hold (``1e30`` was an ``OverflowError``, a 500).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
from jwt import PyJWK, PyJWKClient

from gateway.auth.policy import GRANTABLE_ROLES, Role

log = logging.getLogger("gateway.auth")

MAX_SUBJECT_CHARS = 196
"""``jwt:<sub>`` fits the 200 characters of the columns it is stored in
(``audit_log.subject``, ``notes.author``, ``tasks.assignee``)."""

_KEY_TYPES = {"RS256": "RSA", "ES256": "EC"}
"""The JWK key type each asymmetric algorithm needs: an ES256 header naming an
RSA key's ``kid`` is refused before the library is asked to mix them."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str
    role: Role
    expires_at: datetime


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
            elif algorithm in _KEY_TYPES and self.jwks is not None:
                signing: PyJWK = await asyncio.to_thread(
                    self.jwks.get_signing_key_from_jwt, token
                )
                if signing.key_type != _KEY_TYPES[algorithm]:
                    return None
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
        except jwt.PyJWKClientConnectionError as exc:
            log.warning("JWKS unreachable: %s", type(exc).__name__)
            return None
        except (jwt.PyJWTError, ValueError, TypeError, AttributeError, KeyError):
            # A hostile header or payload; PyJWT lets some of these through
            # as the standard exceptions rather than its own.
            return None
        role = _role(claims.get(self.roles_claim))
        subject = claims.get("sub")
        expires = _moment(claims.get("exp"))
        if role is None or expires is None or not isinstance(subject, str):
            return None
        if not _storable(subject):
            return None
        return TokenClaims(subject=subject, role=role, expires_at=expires)


def _role(value: object) -> Role | None:
    candidates = value if isinstance(value, list) else [value]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate in GRANTABLE_ROLES:
            return Role(candidate)
    return None


def _storable(subject: str) -> bool:
    return 0 < len(subject) <= MAX_SUBJECT_CHARS and subject.isprintable()


def _moment(seconds: object) -> datetime | None:
    """A claim's unix time as a ``datetime``; ``None`` past what one holds."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, ValueError, OSError):
        return None
