"""All configuration, read once from ``CG_*`` environment variables.

Demo mode starts from the same class and fills in what is unset
(``Settings.for_demo``), so an operator's variable always wins.

Production (``CG_ENV=production``) refuses to start on a setting whose default
or value is unsafe there (``Settings.check_production``): the secret that signs
embed tokens left at its development value, a short shared secret, a demo
credential everyone knows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.redis_address import parse_redis_url

DEV_SECRET_KEY = "dev-secret-change-me"
MIN_SECRET_CHARS = 32
"""A shared secret shorter than this cannot hold 256 bits (RFC 7518 §3.2 asks
HS256 keys for at least as many bits as the hash)."""
MIN_DISTINCT_CHARS = 10
"""Fewer distinct characters than this ("aaaa…", "changeme" repeated) is a
pattern, not a random value."""
KNOWN_VALUES = frozenset(
    {
        DEV_SECRET_KEY,
        "wk_demo",
        "shpss_demo_secret",
        "zd-demo-webhook-secret",
        "ph-demo-destination-secret",
        "shpat_demo",
        "zd-demo-token",
        "phx_demo",
        "pk_demo_klaviyo",
        "secret",
        "changeme",
        "change-me",
    }
)
"""Values published in this repository (development defaults, the demo's
simulator secrets) or in every tutorial: anyone can sign or write with them."""
MIRROR_MIN_DAYS = 90
"""The widest window of PostHog activity shown (``gateway.mirror.reads.
ACTIVITY_DAYS``): the event mirror keeps at least that much."""
MAKE_ONE = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'


class InvalidSettings(SystemExit):
    """Settings that are not valid at all (``CG_ENV=prod``, a number that is
    not one): one line naming each variable and what it must be — never its
    value, which may be a secret — and a non-zero status, no traceback (a
    ``SystemExit``, as ``UnsafeSettings``)."""

    def __init__(self, error: ValidationError) -> None:
        problems = [_problem(e["loc"], e["msg"]) for e in error.errors()]
        self.message = "Invalid settings: " + "; ".join(problems)
        super().__init__(self.message)


def _problem(location: tuple[int | str, ...], message: str) -> str:
    message = message.removeprefix("Value error, ")
    if not location:  # a rule over several variables names them itself
        return message
    return f"CG_{str(location[0]).upper()}: {message}"


class UnsafeSettings(SystemExit):
    """Production settings the gateway refuses to start with.

    A ``SystemExit`` on purpose: a host that loads the app factory directly
    (``uvicorn --factory gateway.app:create_app``, gunicorn) stops with this one
    line on stderr and a non-zero status instead of serving, and without a
    traceback; the command line catches it to choose its own exit status.
    """

    def __init__(self, problems: list[str]) -> None:
        self.message = "Refusing to start in production: " + "; ".join(problems)
        super().__init__(self.message)


def _weak(value: str) -> bool:
    return (
        value in KNOWN_VALUES
        or len(value) < MIN_SECRET_CHARS
        or len(set(value)) < MIN_DISTINCT_CHARS
    )


_MATCH_RULES = ("email", "external_id", "phone", "email_alias", "name_postcode")
"""``gateway.identity.rules.MatchRule``'s values (settings import nothing)."""


def default_database_url() -> str:
    return f"sqlite+aiosqlite:///{Path.cwd() / 'customer-graph.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CG_", extra="ignore")

    database_url: str = Field(default_factory=default_database_url)
    database_pool_size: int = Field(default=10, ge=1, le=500)
    """Connections each process's SQLAlchemy pool keeps to PostgreSQL."""
    database_max_overflow: int = Field(default=20, ge=0, le=500)
    """Connections a process may open beyond its pool in a burst (closed when
    given back)."""
    database_max_connections: int | None = Field(default=None, ge=1)
    """The most PostgreSQL connections one replica may open (every process of
    ``serve --workers N``, or one ``worker``): refused at start when its pools
    could exceed it (``gateway.db.budget``, docs/deploying.md). Unset: no check."""
    database_pgbouncer: bool = False
    """``CG_DATABASE_URL`` (and ``CG_DATABASE_READ_URL``) lead to PgBouncer in
    transaction mode: no prepared statement outlives its statement, and the
    job engine listens for new jobs only on ``CG_JOBS_DATABASE_URL``."""
    database_read_url: str | None = None
    """A read replica for the read-only queries of lists, insights and
    exports (``Services.read_sessions``); unset: the primary."""
    jobs_database_url: str | None = None
    """A direct PostgreSQL URL for the job engine's pool (its workers
    ``LISTEN``, which PgBouncer's transaction mode does not carry); unset:
    ``CG_DATABASE_URL`` (behind PgBouncer, the workers then poll)."""
    migration_lock_timeout_ms: int = Field(default=2000, ge=50, le=600_000)
    """How long a migration's DDL waits for its lock before giving up and
    trying again (``gateway.db.session.upgrade``): the writes queued behind
    it wait no longer than this."""
    redis_url: str | None = None
    """One Redis (``redis://``), a Redis Cluster (``redis+cluster://``) or a
    master found through Sentinel (``redis+sentinel://``): the forms are in
    ``gateway.redis_address``."""
    redis_timeout: float = Field(default=0.1, gt=0)
    """Seconds a Redis command (or connecting) may take before it counts as a
    failure; after one, Redis is skipped until a probe finds it back
    (``gateway.shared_redis``). A hung Redis costs the requests of its first
    moments this much once; a Redis nearby answers in a millisecond or two."""
    redis_client_name: str = Field(
        default="customer-graph", max_length=64, pattern=r"^[A-Za-z0-9._:-]*$"
    )
    """What each connection to Redis is named (``CLIENT SETNAME``), followed
    by ``:<host>:<pid>`` (``gateway.shared_redis.client``); empty: no name
    sent, for a Redis whose ACL refuses ``CLIENT SETNAME``."""
    env: Literal["development", "production"] = "development"
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    previous_secret_keys: list[SecretStr] = Field(default_factory=list)
    """What ``secret_key`` was before a rotation (a JSON list): the secrets
    sealed under them are still read (``gateway.sealing``)."""
    demo_api_key: SecretStr | None = None
    log_level: str = "INFO"
    keep_alive_seconds: int = Field(default=75, ge=1, le=3600)
    """How long ``serve`` keeps an idle HTTP connection open (uvicorn's
    ``timeout_keep_alive``, 5 s by default). Keep it above the idle timeout of
    the load balancer's pool of connections to the gateway (nginx 60 s, AWS
    ALB 60 s, Google Cloud's 600 s): a balancer reusing a connection the
    gateway just closed answers its client with a reset (docs/deploying.md)."""
    shutdown_grace_seconds: int = Field(default=30, ge=1, le=3600)
    """On SIGTERM, how long ``serve`` lets in-flight requests finish before
    it closes their connections (uvicorn's ``timeout_graceful_shutdown``;
    unbounded by default, which outlasts an orchestrator's grace period).
    The drain below is part of it: the whole stop takes at most this long."""
    shutdown_drain_seconds: float = Field(default=2.0, ge=0, le=600)
    """On SIGTERM, how long ``serve`` keeps serving before it stops accepting:
    ``/readyz`` answers 503 and every response closes its connection, so a
    balancer's pool lets go of this replica on a response instead of meeting
    a closed socket (docs/deploying.md, "Rolling restarts")."""

    max_page_size: int = 100
    """The largest ``first`` a connection accepts."""

    cache_ttl_shopify: float = 300.0
    cache_ttl_zendesk: float = 120.0
    cache_ttl_posthog: float = 60.0
    cache_ttl_links: float = 600.0
    """How long "this customer is unknown upstream" is remembered."""
    cache_max_entries: int = 50_000
    """Bound of the in-process cache (used when no Redis is configured)."""
    identity_match_rules: str = (
        "email:strong,external_id:strong,phone:strong,"
        "email_alias:weak,name_postcode:weak"
    )
    """Which facts say two records are one person, highest priority first:
    ``strong`` ones link by themselves, ``weak`` ones only suggest
    (``duplicateCandidates``); a rule left out is not used
    (``gateway.identity.rules``)."""
    cache_prefix: str = "cg"
    """First part of every cache key: separates deployments sharing one Redis."""
    cache_enabled: bool = True
    """Off: nothing an upstream answered is kept past the request that read
    it, and no response is stored; identical upstream reads in flight in a
    worker are still sent once (``connectors.upstream_http``)."""
    response_cache_ttl: float = 60.0
    """Seconds a whole ``customer(id:)`` response is reused at most; 0 turns
    the response cache off (it is off too when ``cache_enabled`` is)."""
    response_cache_held_mb: float = Field(default=64.0, ge=0, le=65_536)
    """Megabytes of stored responses each worker keeps in its memory, so a
    hit reads only their versions from Redis (``gateway.cache.held``); 0:
    every hit reads the response from Redis. Without Redis, unused."""
    cache_max_stale_shopify: float = 3600.0
    """Seconds past its TTL a cached Shopify value is kept, and served (with
    ``extensions.stale``) when Shopify cannot answer; 0: never stale."""
    cache_max_stale_zendesk: float = 900.0
    cache_max_stale_posthog: float = 3600.0

    read_deadline_seconds: float = Field(default=2.0, gt=0)
    """Every upstream call of a GraphQL operation (retries and waits included)
    answers within this many seconds of its start, or its source answers
    stale or null with its code."""
    background_deadline_seconds: float = Field(default=60.0, gt=0)
    """The same bound per upstream call of background work (sync, backfills,
    insights, webhooks' look-ups)."""
    upstream_budget_share: float = Field(default=0.8, gt=0, le=1)
    """The share of each vendor's rate limit this gateway spends, all replicas
    together (the rest is left to the vendor's other clients of the key)."""
    upstream_background_reserve: float = Field(default=0.25, ge=0, lt=1)
    """The share of each budget's burst kept for interactive and fallback
    reads: background calls are sent only while more than this is left."""
    upstream_fallback_reserve: float = Field(default=0.1, ge=0, lt=1)
    """The share of each budget's burst kept for interactive reads: fallback
    reads (PostHog's live path for persons the event mirror lacks) are sent
    only while more than this is left. Fallback reads come before background
    work: a value above the background reserve counts as that reserve."""
    shopify_limit_points_per_second: float = Field(default=100.0, gt=0)
    """The store's GraphQL Admin restore rate: Standard 100, Advanced 200,
    Plus 1,000, Commerce Components 2,000 (shopify.dev/docs/apps/build/apis/
    graphql-admin/rate-limits)."""
    shopify_limit_bucket_points: float = Field(default=2000.0, gt=0)
    """The store's bucket size (``throttleStatus.maximumAvailable``)."""
    zendesk_limit_per_minute: int = Field(default=400, gt=0)
    """The account's API requests per minute: Team 200, Growth and
    Professional 400, Enterprise 700, Enterprise Plus 2,500
    (developer.zendesk.com/api-reference/introduction/rate-limits/)."""
    zendesk_search_limit_per_minute: int = Field(default=2500, gt=0)
    """Search API requests per minute per account, counted beside the
    account's limit (developer.zendesk.com/api-reference/ticketing/
    ticket-management/search/, "Limits")."""
    posthog_limit_queries_per_hour: int = Field(default=120, gt=0)
    """HogQL queries per hour per team (PostHog's ``HogQLQueryThrottle``
    default in posthog/rate_limit.py; some plans allow more)."""
    upstream_clock_factor: float = Field(default=1.0, gt=0)
    """Seconds of the vendors' clocks per real second, as their limits count:
    1 against the real vendors. A compressed soak (``bench/soak.py``) runs the
    simulators' clocks this much faster, and the budgets' windows shrink (and
    Shopify's restore quickens) alike."""
    breaker_failures: int = Field(default=5, gt=0)
    """Consecutive failed calls that open an upstream's circuit breaker."""
    breaker_open_seconds: float = Field(default=1.0, gt=0)
    """How long a breaker stays open before a probe; doubled per failed probe."""
    breaker_max_open_seconds: float = Field(default=60.0, gt=0)

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

    jobs_worker: bool = True
    """Whether each ``serve`` process runs a job worker (``gateway.jobs``) in
    its lifespan; off, only ``customer-graph worker`` processes run jobs."""
    jobs_concurrency: int = Field(default=10, ge=1, le=100)
    """Jobs one worker runs at once (they wait on I/O, not on the CPU)."""
    jobs_shutdown_seconds: float | None = Field(default=30.0, ge=0)
    """How long a stopping worker lets its jobs in flight finish; past it they
    are aborted, and their runs taken up again by the next worker's recovery
    pass. Unset: wait for them whatever it takes."""
    jobs_max_attempts: int = Field(default=5, ge=1, le=20)
    """Attempts of a job before it is dead-lettered (procrastinate ``failed``)."""
    jobs_retry_seconds: int = Field(default=4, ge=0, le=60)
    """Base of the exponential backoff: attempt n waits this ** n seconds
    (4, 16, 64, 256 s with the default; 0: at once, for tests)."""
    jobs_stalled_seconds: float = Field(default=30.0, gt=0)
    """A worker silent (no heartbeat) for longer is taken for dead: its jobs
    in flight are run again by another (``gateway.jobs.recovery``)."""
    jobs_pool_size: int = Field(default=4, ge=2, le=50)
    """PostgreSQL connections of the job engine's own pool (psycopg), beside
    SQLAlchemy's: a worker listens on one and fetches jobs through the rest."""

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
    zendesk_search_lag: float = Field(default=300.0, ge=0)
    """Seconds a ticket a webhook announced is read through ``show_many``
    rather than from Zendesk search, whose index "can take up to a few
    minutes" to show a write."""

    posthog_host: str | None = None
    posthog_project_id: str | None = None
    posthog_api_key: SecretStr | None = None
    posthog_webhook_secret: SecretStr | None = None
    """What PostHog's HTTP Webhook destination sends in
    ``X-Customer-Graph-Secret`` (docs/analytics.md); unset: ``/webhooks/posthog``
    answers 503."""
    posthog_live_fallback: bool = True
    """Read persons the event mirror has no events of from PostHog's query
    API (spending its budget at fallback priority, ``gateway.guard``); off:
    they answer as having no events."""
    posthog_backfill_page_size: int = Field(default=10_000, ge=1, le=50_000)
    """Events per backfill query (PostHog returns 50,000 rows at most)."""

    klaviyo_api_key: SecretStr | None = None
    """The Klaviyo account's private API key (scopes ``lists:read``,
    ``lists:write``, ``profiles:read``, ``profiles:write``,
    ``subscriptions:write``); unset: audience sync answers NOT_CONFIGURED."""
    klaviyo_url: str = "https://a.klaviyo.com"
    """Klaviyo's API origin (the simulator's in the demo and the tests). Its
    limits are per endpoint and the same for every account
    (``connectors.klaviyo.limits``): the budget is their
    ``CG_UPSTREAM_BUDGET_SHARE``."""

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

    outbound_allow_private_targets: bool = False
    """Let outbound webhooks reach loopback, private, link-local and other
    non-public addresses (checked when an endpoint is saved and again at each
    delivery, after DNS). Off: a webhook cannot be aimed at the gateway's own
    network (SSRF). Tests and a local demo turn it on."""
    outbound_connect_timeout: float = Field(default=5.0, gt=0)
    outbound_read_timeout: float = Field(default=15.0, gt=0)
    """Seconds an endpoint has to answer once connected; then the attempt
    failed (``ReadTimeout``) and is retried."""
    outbound_max_attempts: int = Field(default=10, ge=1, le=50)
    """Attempts before a delivery is dead (a dead letter, ``retryDelivery``)."""
    outbound_backoff_seconds: float = Field(default=30.0, ge=0)
    """The first retry's delay; each next one doubles (equal jitter: half of
    it fixed, half random), capped by ``outbound_backoff_max_seconds``."""
    outbound_backoff_max_seconds: float = Field(default=6 * 3600.0, ge=0)
    outbound_endpoint_concurrency: int = Field(default=4, ge=1, le=64)
    """Deliveries to one endpoint sent at once, by every worker together: a
    slow endpoint holds at most this many workers' slots."""
    outbound_secret_grace_seconds: int = Field(default=24 * 3600, ge=0)
    """How long the previous secret still signs after ``rotateWebhookSecret``."""

    retention_tracked_events_days: int = Field(default=365, ge=0, le=36_500)
    """Days an ingested event (``tracked_events``, by ``occurred_at``) is
    kept; older ones are purged (``gateway.retention``). 0: kept forever.
    Segment rules (``viewedProduct``) and the timeline see no further back."""
    retention_posthog_events_days: int = Field(default=0, ge=0, le=36_500)
    """Days an event of the local PostHog mirror (``posthog_events``) is kept.
    0 (the default): kept forever — PostHog holds the originals under its own
    retention. Else at least ``MIRROR_MIN_DAYS``, the widest window
    ``activity`` shows."""
    retention_audit_days: int = Field(default=365, ge=0, le=36_500)
    """Days an audit entry (``audit_log``: who read or changed whose data) is
    kept. 0: kept forever."""
    retention_webhook_payloads_days: int = Field(default=30, ge=0, le=36_500)
    """Days webhook data is kept: received deliveries' claims
    (``webhook_deliveries``, never less than the floor of
    ``gateway.retention``, upstreams' retries), completed privacy requests'
    payloads, outbound webhooks' finished messages, deliveries and attempts.
    0: kept forever."""
    retention_batch_rows: int = Field(default=10_000, ge=1, le=100_000)
    """Rows one purge statement deletes at most: each is its own short
    transaction, so a backlog never holds a long lock."""
    audit_held_entries: int = Field(default=1_000_000, ge=1_000, le=100_000_000)
    """Audit entries a process holds unwritten, at most (~200 bytes each):
    past it, an answer (HTTP, WebSocket) waits for the audit's writes to make
    room, 10 s at most (``gateway.auth.audit.AuditLog.room``). A burst of
    seconds fits; a load faster than the database, sustained, is served at
    its pace."""

    @field_validator("redis_url")
    @classmethod
    def _redis_address(cls, value: str | None) -> str | None:
        if value:
            parse_redis_url(value)  # its ValueError names the problem, not the URL
        return value or None

    @field_validator("identity_match_rules")
    @classmethod
    def _match_rules(cls, value: str) -> str:
        seen: set[str] = set()
        for item in value.split(","):
            rule, _, strength = item.strip().partition(":")
            if rule not in _MATCH_RULES or strength not in ("", "strong", "weak"):
                raise ValueError(
                    f"{item.strip()!r} is not rule:strength (rules: "
                    f"{', '.join(_MATCH_RULES)}; strengths: strong, weak)"
                )
            if rule in seen:
                raise ValueError(f"{rule} is listed twice")
            if rule == "external_id" and strength == "weak":
                raise ValueError("external_id is an id, not a guess: always strong")
            seen.add(rule)
        return value

    @model_validator(mode="after")
    def _drain_inside_grace(self) -> Settings:
        if self.shutdown_drain_seconds >= self.shutdown_grace_seconds:
            raise ValueError(
                "CG_SHUTDOWN_DRAIN_SECONDS must be below CG_SHUTDOWN_GRACE_SECONDS "
                "(the drain is part of the grace)"
            )
        return self

    @model_validator(mode="after")
    def _mirror_retention_covers_activity(self) -> Settings:
        days = self.retention_posthog_events_days
        if 0 < days < MIRROR_MIN_DAYS:
            raise ValueError(
                "CG_RETENTION_POSTHOG_EVENTS_DAYS must be 0 (keep forever) or at "
                f"least {MIRROR_MIN_DAYS}: the activity a customer view shows"
            )
        return self

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

    @classmethod
    def read(cls) -> Settings:
        """The settings in the environment; ``InvalidSettings`` (one line)
        when a value is not valid."""
        try:
            return cls()
        except ValidationError as exc:
            raise InvalidSettings(exc) from None

    @classmethod
    def load(cls) -> Settings:
        """The settings of a process about to serve or sign: read from the
        environment and refused (``UnsafeSettings``) if unsafe in production."""
        settings = cls.read()
        settings.check_production()
        return settings

    def production_problems(self) -> list[str]:
        """What makes these settings unsafe in production, one sentence each
        naming the variable; empty outside production.

        Refused: ``CG_SECRET_KEY`` unset, known or short (it signs embed
        tokens: with the development value anyone mints one for any
        customer); every other credential the gateway checks — the HS256
        secret, the demo admin key, both ingest write keys, the webhook
        signing secrets — when set but weak or published here (``wk_demo``,
        the simulators' secrets): a guessed one writes events or signs
        deliveries. Not refused: the SQLite default database (supported, and
        holds no credential), introspection or GraphiQL an operator turns on
        explicitly.
        """
        if not self.is_production:
            return []
        problems = []
        if _weak(self.secret_key.get_secret_value()):
            problems.append(
                "CG_SECRET_KEY must be a random value of at least "
                f"{MIN_SECRET_CHARS} characters (make one with: {MAKE_ONE})"
            )
        for name, value in (
            ("CG_JWT_SECRET", self.jwt_secret),
            ("CG_DEMO_API_KEY", self.demo_api_key),
            ("CG_INGEST_WRITE_KEY", self.ingest_write_key),
            ("CG_INGEST_SERVER_WRITE_KEY", self.ingest_server_write_key),
            ("CG_SHOPIFY_API_SECRET", self.shopify_api_secret),
            ("CG_ZENDESK_WEBHOOK_SECRET", self.zendesk_webhook_secret),
            ("CG_POSTHOG_WEBHOOK_SECRET", self.posthog_webhook_secret),
        ):
            text = value.get_secret_value() if value is not None else None
            if text in KNOWN_VALUES:
                problems.append(f"{name} is a published demo value: set your own")
            elif text is not None and _weak(text):
                problems.append(
                    f"{name} is set but weak: use at least {MIN_SECRET_CHARS} "
                    f"random characters (make one with: {MAKE_ONE}) or unset it"
                )
        return problems

    def check_production(self) -> None:
        """Raise ``UnsafeSettings`` if ``production_problems`` finds any."""
        problems = self.production_problems()
        if problems:
            raise UnsafeSettings(problems)

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
