"""API keys: ``cg_`` + 32 random bytes (url-safe base64), shown once at creation.

Only the SHA-256 of a key is stored: a leaked database does not leak keys. A
key that is unknown, revoked or past its expiry authenticates nobody, nor does
one whose role no key may hold (``embed``, from before keys were refused it).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.auth.policy import GRANTABLE_ROLES, Role
from gateway.db.auth_models import ApiKey
from gateway.db.models import utcnow
from gateway.errors import BadUserInput, Conflict, NotFound
from gateway.validation import clean_name

PREFIX = "cg_"
MAX_LIFETIME = timedelta(days=3650)
"""Longest ``expires_in``: a key meant to expire does so within ten years."""


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyInfo:
    name: str
    role: Role
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(
        name=row.name,
        role=Role(row.role),
        prefix=row.prefix,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


async def create_key(
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    role: Role,
    *,
    expires_in: timedelta | None = None,
    secret: str | None = None,
) -> tuple[str, KeyInfo]:
    """A new key; returns the secret (never stored) and what is stored.

    Any ``expires_in`` given sets an expiry, a zero or negative one included
    (the key is born expired): only ``None`` means never.
    """
    name = clean_name(name, "name", 100)
    if role not in GRANTABLE_ROLES:
        raise BadUserInput(
            f"No API key may have the {role} role: it comes only with an embed "
            "token (the createEmbedToken mutation), limited to one customer's "
            "timeline.",
            field="role",
        )
    key = secret or new_secret()
    if not key.startswith(PREFIX):
        raise BadUserInput(f"API keys start with {PREFIX}.", field="key")
    row = ApiKey(
        name=name,
        role=role.value,
        key_hash=digest(key),
        prefix=key[:10],
        expires_at=utcnow() + expires_in if expires_in is not None else None,
    )
    async with sessions() as session:
        session.add(row)
        try:
            await session.commit()
        except IntegrityError as exc:
            raise Conflict(f"A key named {name!r} already exists.") from exc
    return key, _info(row)


async def list_keys(sessions: async_sessionmaker[AsyncSession]) -> list[KeyInfo]:
    async with sessions() as session:
        rows = await session.scalars(select(ApiKey).order_by(ApiKey.created_at))
        return [_info(r) for r in rows]


async def revoke_key(sessions: async_sessionmaker[AsyncSession], name: str) -> KeyInfo:
    async with sessions() as session:
        row = await session.scalar(select(ApiKey).where(ApiKey.name == name))
        if row is None:
            raise NotFound(f"No key named {name!r}.")
        row.revoked_at = row.revoked_at or utcnow()
        await session.commit()
        return _info(row)


async def find_key(
    sessions: async_sessionmaker[AsyncSession], key: str
) -> KeyInfo | None:
    """The key's record when it is valid now; ``None`` otherwise."""
    if not key.startswith(PREFIX):
        return None
    async with sessions() as session:
        row = await session.scalar(select(ApiKey).where(ApiKey.key_hash == digest(key)))
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= utcnow():
        return None
    if row.role not in GRANTABLE_ROLES:
        return None
    return _info(row)
