"""All configuration, read once from ``CG_*`` environment variables.

Demo mode starts from the same class and fills in what is unset
(``Settings.for_demo``), so an operator's variable always wins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_database_url() -> str:
    return f"sqlite+aiosqlite:///{Path.cwd() / 'customer-graph.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CG_", extra="ignore")

    database_url: str = Field(default_factory=default_database_url)
    redis_url: str | None = None
    env: Literal["development", "production"] = "development"
    secret_key: SecretStr = SecretStr("dev-secret-change-me")
    demo_api_key: SecretStr | None = None
    log_level: str = "INFO"

    max_page_size: int = 100
    """The largest ``first`` a connection accepts."""

    cache_ttl_shopify: float = 300.0
    cache_ttl_zendesk: float = 120.0
    cache_ttl_posthog: float = 60.0
    cache_ttl_links: float = 600.0
    """How long "this customer is unknown upstream" is remembered."""
    cache_max_entries: int = 50_000
    """Bound of the in-process cache (used when no Redis is configured)."""
    cache_prefix: str = "cg"
    """First part of every cache key: separates deployments sharing one Redis."""
    cache_enabled: bool = True
    response_cache_ttl: float = 60.0
    """Seconds a whole ``customer(id:)`` response is reused at most; 0 turns
    the response cache off (it is off too when ``cache_enabled`` is)."""
    loaders_enabled: bool = True
    """Off only to measure what batching saves (the benchmark's baseline)."""

    rfm_window_days: int = 365
    """Orders older than this count for recency only, not frequency or monetary."""
    insights_refresh_interval: float = 3600.0
    """Seconds between the gateway's full insights refreshes; 0 turns them off."""
    insights_work_mem: str = Field(default="256MB", pattern=r"^[0-9]+(kB|MB|GB)$")
    """PostgreSQL ``work_mem`` of a full refresh's transaction, so its sorts
    stay in memory (the server default, 4 MB, spills them to disk). Per sort
    node: the aggregations stream from covering indexes, and the largest sorts
    (RFM's three rankings) hold ~100 MB each at 1,000,000 customers."""

    shopify_shop: str | None = None
    shopify_access_token: SecretStr | None = None
    shopify_api_secret: SecretStr | None = None
    shopify_base_url: str | None = None
    shopify_api_version: str = "2025-07"
    shopify_order_history: int = 50
    """Newest orders read per customer for ``Customer.orders`` (the lifetime
    count is ``shopifyCustomer.numberOfOrders``; insights keep their own facts)."""

    zendesk_subdomain: str | None = None
    zendesk_email: str | None = None
    zendesk_api_token: SecretStr | None = None
    zendesk_webhook_secret: SecretStr | None = None
    zendesk_base_url: str | None = None

    posthog_host: str | None = None
    posthog_project_id: str | None = None
    posthog_api_key: SecretStr | None = None

    ingest_write_key: SecretStr | None = None
    """Segment's *public* write key: it ships in browsers and apps, so what it
    may do to a profile is limited (create, fill empty fields; see
    ``gateway.ingest.profiles``)."""
    ingest_server_write_key: SecretStr | None = None
    """A server-side write key, never shipped to clients: its identify calls
    may link on email and change stored contact data. Must differ from
    ``ingest_write_key``."""

    jwt_secret: SecretStr | None = None
    """HS256 shared secret; with ``jwt_jwks_url`` RS256/ES256 tokens are accepted."""
    jwt_jwks_url: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_roles_claim: str = "roles"

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 2000
    max_cost: int = 10_000
    """Largest number of nodes a query may ask for (fields × ``first``)."""
    max_document_bytes: int = 100_000
    max_directives: int = 50
    """Directives in one operation (fragments expanded): one refusal, not an
    error per directive."""
    max_body_bytes: int = 1_000_000
    """A POST body (document and variables) larger than this is refused unread."""
    batching_enabled: bool = False
    max_batch: int = 10
    introspection: bool | None = None
    """Default: on in development, off in production."""
    graphiql: bool | None = None
    """Default: on in development, off in production."""
    persisted_queries_only: bool = False
    """Allowlist mode: only documents registered with ``customer-graph queries``."""
    rate_limit_per_minute: int = 1200
    rate_limit_burst: int = 200
    auth_failures_per_minute: int = 30
    """Failed authentications allowed per client address (``request.client``:
    behind a proxy, set uvicorn's ``FORWARDED_ALLOW_IPS``); past them every
    request from that address is 429 until the bucket refills."""
    auth_failures_burst: int = 30

    embed_max_depth: int = 8
    embed_max_aliases: int = 5
    embed_max_tokens: int = 400
    embed_max_cost: int = 1_500
    """The embed page's query costs 261 for its 20-event pages, 1,301 for
    the largest page (100 events)."""
    embed_max_document_bytes: int = 8_000
    embed_max_directives: int = 10
    embed_rate_limit_per_minute: int = 120
    """Per embed token (its hash), shared by replicas through Redis."""
    embed_rate_limit_burst: int = 30

    @model_validator(mode="after")
    def _distinct_ingest_keys(self) -> Settings:
        public, server = self.ingest_write_key, self.ingest_server_write_key
        if (
            public is not None
            and server is not None
            and public.get_secret_value() == server.get_secret_value()
        ):
            raise ValueError(
                "CG_INGEST_SERVER_WRITE_KEY must differ from CG_INGEST_WRITE_KEY "
                "(the public write key ships in browsers)"
            )
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def introspection_enabled(self) -> bool:
        if self.introspection is None:
            return not self.is_production
        return self.introspection

    @property
    def graphiql_enabled(self) -> bool:
        return not self.is_production if self.graphiql is None else self.graphiql

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
