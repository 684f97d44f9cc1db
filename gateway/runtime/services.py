"""Long-lived services shared by all requests, opened and closed by the app's
lifespan: the settings, the database engine and its session factory, the
authenticator and rate limiter, the process's Redis client and breaker
(every Redis user below shares them), the upstream connectors (and the access
Shopify granted them) and their guard, the cache of their results, persisted
queries, the change bus and the CRM writes that announce on it, and the job
engine (``gateway.jobs``: its App, opened here; workers run elsewhere)."""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
from procrastinate import App
from procrastinate.testing import InMemoryConnector
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway import metrics
from gateway.admission.persisted import PersistedQueries
from gateway.auth.admission import LoginThrottle
from gateway.auth.audit import AuditLog
from gateway.auth.authenticate import Authenticator
from gateway.auth.ratelimit import RateLimiter
from gateway.auth.tokens import TokenVerifier
from gateway.cache.backends import open_backend
from gateway.cache.invalidation import Invalidator
from gateway.cache.namespaces import UpstreamCaches, build_caches
from gateway.cache.responses import ResponseCache
from gateway.changes.bus import ChangeBus
from gateway.changes.feed import ChangeFeed
from gateway.crm.service import Crm
from gateway.db.session import (
    autocommit,
    check_migrated,
    session_factory,
    settings_engine,
)
from gateway.guard.upstreams import UpstreamGuard, build_guard
from gateway.identity.rules import MatchRules
from gateway.jobs.engine import build_jobs, opened
from gateway.runtime.shopify_scopes import ShopifyScopes
from gateway.runtime.upstreams import Upstreams, build_upstreams
from gateway.sealing import Sealer
from gateway.settings import Settings
from gateway.shared_redis.client import SharedRedis
from gateway.shared_redis.pseudonyms import Pseudonyms


@dataclass(slots=True)
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    auth: Authenticator
    rate_limiter: RateLimiter
    login_failures: LoginThrottle
    """Failed authentications per client address (``gateway.auth.admission``)."""
    embed_rate_limiter: RateLimiter
    """Per embed token, tighter than the API's."""
    persisted: PersistedQueries
    audit: AuditLog
    upstreams: Upstreams = field(default_factory=Upstreams)
    guard: UpstreamGuard | None = None
    """Budgets and breakers of the upstreams' calls (``gateway.guard``)."""
    changes: ChangeBus = field(default_factory=ChangeBus)
    caches: UpstreamCaches | None = None
    responses: ResponseCache | None = None
    """Whole responses of customer queries (``gateway.cache.responses``)."""
    feed: ChangeFeed | None = None
    """Changes for live subscriptions, shared across replicas through Redis."""
    shopify_scopes: ShopifyScopes | None = None
    """The access scopes Shopify granted, checked when the services open."""
    redis: SharedRedis | None = None
    """The process's Redis client and its breaker, shared by every Redis user
    above (``gateway.shared_redis``); ``None`` without ``CG_REDIS_URL``."""
    jobs: App = field(default_factory=lambda: App(connector=InMemoryConnector()))
    """The job engine (``gateway.jobs.engine``): defers jobs; the tasks are
    registered where a worker runs (``gateway.app``, ``customer-graph worker``)."""
    read_sessions: async_sessionmaker[AsyncSession] | None = None
    """Sessions on the read replica (``CG_DATABASE_READ_URL``), for the
    read-only queries of lists, insights and exports; see ``reads``."""
    outbound_http: httpx.AsyncClient | None = None
    """The HTTP client of outbound webhook deliveries (``gateway.outbound``):
    never follows a redirect, ``CG_OUTBOUND_*_TIMEOUT``, no proxy from the
    environment."""
    burst_reads: async_sessionmaker[AsyncSession] = field(init=False)
    """``sessions`` in autocommit (``gateway.db.session.autocommit``): what a
    request's ``SharedSession`` of reads opens."""
    crm: Crm = field(init=False)
    """CRM writes, each announced on ``changes`` after its commit; built from
    ``sessions`` and ``changes`` (also by ``dataclasses.replace``)."""

    sealer: Sealer = field(init=False)
    """Seals and opens stored secrets under ``CG_SECRET_KEY``."""
    match_rules: MatchRules = field(init=False)
    """``CG_IDENTITY_MATCH_RULES``: which facts link records by themselves."""

    def __post_init__(self) -> None:
        self.crm = Crm(self.sessions, self.changes)
        self.burst_reads = autocommit(self.sessions)
        self.sealer = Sealer.of(self.settings)
        self.match_rules = MatchRules.parse(self.settings.identity_match_rules)

    @property
    def reads(self) -> async_sessionmaker[AsyncSession]:
        """Sessions for a read that may lag the primary by the replica's
        delay (a list, a summary): the replica's, else the primary's."""
        return self.read_sessions or self.sessions

    async def forget_responses(self) -> None:
        """Drop every cached response: after changes to many customers at once
        (an insights refresh, a new segment)."""
        if self.responses is not None:
            await self.responses.forget_all()


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


@functools.cache
def _outbound_tls() -> ssl.SSLContext:
    """httpx's default verification (certifi's CA bundle), loaded once per
    process: loading it takes ~15 ms, once for each client otherwise."""
    return httpx.create_ssl_context(trust_env=False)


def outbound_client(settings: Settings) -> httpx.AsyncClient:
    """Deliveries connect to the address ``gateway.outbound.targets`` checked,
    so nothing may send them elsewhere: no redirects, no proxy."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        verify=_outbound_tls(),
        timeout=httpx.Timeout(
            settings.outbound_read_timeout, connect=settings.outbound_connect_timeout
        ),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        headers={"User-Agent": "customer-graph-webhooks"},
    )


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """Every shared client. A server opens them with the database down too:
    ``/readyz`` answers 503 until it is back."""
    engine = settings_engine(settings)
    sessions = session_factory(engine)
    read_engine = (
        settings_engine(settings, settings.database_read_url)
        if settings.database_read_url
        else None
    )
    redis = (
        SharedRedis.open(
            settings.redis_url,
            settings.redis_timeout,
            settings.cache_prefix,
            settings.redis_client_name,
        )
        if settings.redis_url
        else None
    )
    backend = open_backend(redis, settings.cache_max_entries)
    upstreams = build_upstreams(settings, observer=metrics.observe_upstream)
    guard = build_guard(settings, redis, [c.name for c in upstreams.configured()])
    upstreams.guard_with(guard)
    pseudonyms = Pseudonyms.of(settings)
    tokens = TokenVerifier(
        secret=_secret(settings.jwt_secret),
        jwks_url=settings.jwt_jwks_url,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        roles_claim=settings.jwt_roles_claim,
    )
    services = Services(
        settings=settings,
        engine=engine,
        sessions=sessions,
        auth=Authenticator(sessions, tokens, _secret(settings.demo_api_key)),
        rate_limiter=RateLimiter(
            settings.rate_limit_per_minute,
            settings.rate_limit_burst,
            redis,
            prefix=settings.cache_prefix,
            pseudonyms=pseudonyms,
        ),
        login_failures=LoginThrottle(
            RateLimiter(
                settings.auth_failures_per_minute,
                settings.auth_failures_burst,
                redis,
                prefix=settings.cache_prefix,
                pseudonyms=pseudonyms,
            )
        ),
        embed_rate_limiter=RateLimiter(
            settings.embed_rate_limit_per_minute,
            settings.embed_rate_limit_burst,
            redis,
            prefix=f"{settings.cache_prefix}:embed",
            pseudonyms=pseudonyms,
        ),
        persisted=PersistedQueries(
            backend,
            sessions,
            allowlist_only=settings.persisted_queries_only,
            prefix=settings.cache_prefix,
        ),
        audit=AuditLog(sessions, limit=settings.audit_held_entries),
        upstreams=upstreams,
        guard=guard,
        redis=redis,
        jobs=build_jobs(settings),
        read_sessions=session_factory(read_engine) if read_engine else None,
    )
    if settings.cache_enabled:
        services.caches = build_caches(backend, settings)
        services.changes.subscribe_batch(Invalidator(sessions, services.caches))
        if settings.response_cache_ttl > 0:
            services.responses = ResponseCache(
                backend,
                settings.cache_prefix,
                settings.response_cache_ttl,
                # without Redis the entries are in this process's memory already
                held_bytes=int(settings.response_cache_held_mb * 1024 * 1024)
                if redis is not None
                else 0,
            )
            services.changes.subscribe_batch(services.responses.forget_customers)
            if redis is not None:
                # Changes made during an outage bumped versions nobody else saw.
                redis.breaker.on_recovery(services.responses.forget_all)
    services.outbound_http = outbound_client(settings)
    services.feed = ChangeFeed(
        services.changes, redis, f"{settings.cache_prefix}:changes"
    )
    await services.feed.start()
    if upstreams.shopify is not None:
        services.shopify_scopes = ShopifyScopes(upstreams.shopify)
        await services.shopify_scopes.refresh()
    try:
        async with opened(services.jobs, settings):
            yield services
    finally:
        if services.shopify_scopes is not None:
            await services.shopify_scopes.aclose()
        await services.feed.aclose()
        await services.outbound_http.aclose()
        await services.audit.aclose()
        await backend.aclose()
        if redis is not None:
            await redis.aclose()
        await upstreams.aclose()
        await engine.dispose()
        if read_engine is not None:
            await read_engine.dispose()


@asynccontextmanager
async def open_command_services(settings: Settings) -> AsyncIterator[Services]:
    """``open_services`` for a command: ``DatabaseNotReady`` first when the
    database is missing, unreachable or not migrated, so nothing runs half-way."""
    await check_migrated(settings.database_url, pgbouncer=settings.database_pgbouncer)
    async with open_services(settings) as services:
        yield services
