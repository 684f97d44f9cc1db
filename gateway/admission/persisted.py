"""Persisted queries: Apollo's Automatic Persisted Queries, and allowlist mode.

APQ: a client sends ``extensions.persistedQuery.sha256Hash`` alone; an unknown
hash answers ``PERSISTED_QUERY_NOT_FOUND`` and the client retries with the
document, which is checked against the hash and stored (Redis or memory).

Allowlist mode (``CG_PERSISTED_QUERIES_ONLY``): only documents registered with
``customer-graph queries register`` run, sent by hash or in full.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.cache.backends import CacheBackend
from gateway.db.auth_models import RegisteredQuery

APQ_TTL = 7 * 24 * 3600.0


class PersistedQueryError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


class PersistedQueries:
    def __init__(
        self,
        backend: CacheBackend,
        sessions: async_sessionmaker[AsyncSession],
        *,
        allowlist_only: bool,
        prefix: str = "cg",
    ) -> None:
        self.backend = backend
        self.sessions = sessions
        self.allowlist_only = allowlist_only
        self.prefix = f"{prefix}:apq:"

    async def document(
        self, query: str | None, extensions: dict[str, Any] | None
    ) -> str | None:
        """The document to run (``None``: no query at all, for the view to refuse)."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            if self.allowlist_only and query is not None:
                await self._require_registered(sha256(query))
            return query
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise PersistedQueryError(
                400, "PERSISTED_QUERY_INVALID", "Unsupported persistedQuery version."
            )
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str) or len(digest) != 64:
            raise PersistedQueryError(400, "PERSISTED_QUERY_INVALID", "Bad sha256Hash.")
        if self.allowlist_only:
            return await self._require_registered(digest)
        if query is not None:
            if sha256(query) != digest:
                raise PersistedQueryError(
                    400, "PERSISTED_QUERY_HASH_MISMATCH", "sha256Hash does not match."
                )
            await self.backend.set_many({self.prefix + digest: query.encode()}, APQ_TTL)
            return query
        (stored,) = await self.backend.get_many([self.prefix + digest])
        if stored is None:
            raise PersistedQueryError(
                200, "PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound"
            )
        return stored.decode()

    async def _require_registered(self, digest: str) -> str:
        async with self.sessions() as session:
            document = await session.scalar(
                select(RegisteredQuery.document).where(RegisteredQuery.sha256 == digest)
            )
        if document is None:
            raise PersistedQueryError(
                400, "PERSISTED_QUERY_NOT_ALLOWED", "Only registered queries may run."
            )
        return document


async def register(
    sessions: async_sessionmaker[AsyncSession], document: str, name: str | None = None
) -> str:
    """Add ``document`` to the allowlist; returns its hash (idempotent)."""
    digest = sha256(document)
    async with sessions() as session, session.begin():
        dialect = (await session.connection()).dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        await session.execute(
            insert(RegisteredQuery)
            .values(sha256=digest, document=document, name=name)
            .on_conflict_do_nothing(index_elements=["sha256"])
        )
    return digest
