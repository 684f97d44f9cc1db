"""Shared fixtures: a migrated database per backend (SQLite and a real
PostgreSQL), the app over ASGI, a GraphQL helper, an SQL statement counter,
and Redis: the shared one, or a server of a test's own."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from pydantic import SecretStr
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bench.redis_cluster import own_cluster
from bench.redis_server import RedisServer, own_redis
from connectors.shopify.simulator.server import ShopifySimulator
from gateway.app import create_app
from gateway.cache.backends import MemoryBackend, RedisBackend
from gateway.db.models import Base
from gateway.db.session import upgrade
from gateway.runtime.services import Services, open_services
from gateway.settings import Settings
from tests.servers import (
    POSTGRES_URL,
    REDIS_KINDS,
    REDIS_URL,
    asyncpg_url,
    needed,
    require,
    throwaway_database_name,
)

GraphQL = Callable[..., Awaitable[dict[str, Any]]]

ADMIN_KEY = "cg_test_admin_key"
"""The tests' admin API key (``CG_DEMO_API_KEY``: no database row needed)."""
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
ANSWER_WAIT = 30.0
"""Seconds a WebSocket answer (an ack, a result, a close) may take before a
test calls it a hang: as long as the suite's read deadline, since a worker on
a busy machine may wait seconds for CPU. Not a measure of speed."""


HANDSHAKE_WAIT = 60.0
"""Seconds a WebSocket's opening handshake may take in a test: the library's
10 s once ran out on a busy machine; some tests had set 60 already."""


async def called(simulator: ShopifySimulator, before: int) -> None:
    """Once Shopify's simulator has received a call past ``before`` (its
    ``requests["graphql"]`` then), at most ``ANSWER_WAIT`` seconds: a call
    that never leaves fails the test instead of hanging it."""

    async def sent() -> None:
        while simulator.requests["graphql"] == before:
            await asyncio.sleep(0.005)

    await asyncio.wait_for(sent(), ANSWER_WAIT)


def graphql_socket(
    url: str, protocol: str = "graphql-transport-ws", **options: Any
) -> websockets.connect:
    """A WebSocket to ``url`` speaking ``protocol``, given ``HANDSHAKE_WAIT``
    to open."""
    return websockets.connect(
        url,
        subprotocols=[protocol],
        open_timeout=HANDSHAKE_WAIT,
        **options,  # type: ignore[list-item]
    )


# Every server a test starts stops at once on SIGTERM: no balancer pools
# connections to it, so the drain a fleet's replica needs (default 2 s) would
# only add 2 s to each of the suite's many stops. The drain's own tests and
# the fleet's replicas set theirs.
os.environ.setdefault("CG_SHUTDOWN_DRAIN_SECONDS", "0")


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """A module marked ``storage_independent`` (its subject is transport,
    roles, upstreams or caches, not what the database does) runs on
    PostgreSQL only: on SQLite it would repeat the same checks. One marked
    ``single_redis`` (what it checks does not depend on key slots) runs on
    one Redis server, not also on the cluster."""
    dropped = [item for item in items if _repeats(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        gone = set(map(id, dropped))
        items[:] = [item for item in items if id(item) not in gone]


def _repeats(item: pytest.Item) -> bool:
    params = getattr(getattr(item, "callspec", None), "params", {})
    if (
        item.get_closest_marker("storage_independent")
        and params.get("database_url") == "sqlite"
    ):
        return True
    if item.get_closest_marker("single_redis"):
        return "cluster" in (params.get("cached"), params.get("redis_url"))
    return False


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A migrated, empty database; each run of the suite gets its own."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "test.db"
        url = f"sqlite+aiosqlite:///{path}"
        await asyncio.to_thread(upgrade, url)
        yield url
        return
    require("database", POSTGRES_URL, 5432)
    name = throwaway_database_name()
    admin = create_async_engine(asyncpg_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = asyncpg_url(POSTGRES_URL, name)
    try:
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        async with admin.connect() as connection:
            await connection.execute(
                text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            )
        await admin.dispose()


@pytest.fixture(scope="session")
async def services(database_url: str) -> AsyncIterator[Services]:
    settings = Settings(
        database_url=database_url,
        redis_url=None,
        demo_api_key=SecretStr(ADMIN_KEY),
        # Every test calls from 127.0.0.1 and many send bad credentials on
        # purpose: the failed-login throttle has tests of its own.
        auth_failures_per_minute=100_000,
        auth_failures_burst=100_000,
        # One admin key sends every test's requests: its rate limit has
        # tests of its own (test_security.py, test_hostile_credentials.py).
        rate_limit_per_minute=10_000_000,
        rate_limit_burst=10_000_000,
        # Several workers share two cores: a read may wait seconds for CPU.
        # The deadline's own tests set theirs.
        read_deadline_seconds=30.0,
        # Tests count Redis round trips: a machine that stalls a worker must
        # not turn one into an outage (tests of outages stop Redis). 1 s once
        # ran out for a cluster's SET on a loaded CI run: a page's second
        # read was then answered from the in-process tier.
        redis_timeout=3.0,
        # Outbound webhooks' receivers in tests listen on loopback; their
        # refusal of non-public addresses has tests of its own.
        outbound_allow_private_targets=True,
        # The hourly purge (a drain may run it) would remove other tests'
        # dated rows: retention's own tests set theirs.
        retention_tracked_events_days=0,
        retention_audit_days=0,
        retention_webhook_payloads_days=0,
    )
    async with open_services(settings) as opened:
        yield opened


WITH_ROWS = " UNION ALL ".join(
    f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM \"{t.name}\")"
    for t in Base.metadata.sorted_tables
)
"""The tables that hold rows, in one statement."""
USED_TABLES = text(
    WITH_ROWS + " UNION ALL SELECT t.relname FROM pg_sequences s"
    " JOIN pg_class q ON q.relname = s.sequencename"
    " JOIN pg_depend d ON d.objid = q.oid AND d.deptype IN ('a', 'i')"
    " JOIN pg_class t ON t.oid = d.refobjid"
    " WHERE s.schemaname = current_schema() AND s.last_value IS NOT NULL"
)
"""The tables a test wrote to: rows left, or a sequence taken from."""


_COUNTS = select(
    *(
        select(func.count()).select_from(t).scalar_subquery().label(t.name)
        for t in Base.metadata.sorted_tables
        if t.name != "audit_log"
    )
)


async def row_counts(services: Services) -> dict[str, int]:
    """Rows per table, in one statement, the audit log left out (written
    behind, for earlier reads): what a refused request must not change."""
    async with services.sessions() as session:
        found = (await session.execute(_COUNTS)).one()
    return {name: int(count) for name, count in found._mapping.items()}


RESTART_SEQUENCES = text(
    "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, 1, false)"
    " FROM pg_sequences"
    " WHERE schemaname = current_schema() AND last_value IS NOT NULL"
)
"""Every sequence a test took from starts again at 1."""


async def empty_tables(connection: AsyncConnection) -> None:
    """Deletes every row a test left and restarts the ids it took.

    On PostgreSQL, ``DELETE`` for the project's tables (children first): a
    test leaves a few rows, and ``TRUNCATE`` makes new files for each table it
    names and every table referencing them, ~0.1 s after each test. The job
    engine's tables, outside the project's metadata, are truncated, only when
    a test used them."""
    if connection.dialect.name == "postgresql":
        used = set(await connection.scalars(USED_TABLES))
        others = used - set(Base.metadata.tables)
        if others:
            listed = ", ".join(f'"{name}"' for name in sorted(others))
            await connection.execute(text(f"TRUNCATE {listed} CASCADE"))
    else:
        used = set(await connection.scalars(text(WITH_ROWS)))
    for table in reversed(Base.metadata.sorted_tables):
        if table.name in used:
            await connection.execute(table.delete())
    if connection.dialect.name == "postgresql" and used:
        await connection.execute(RESTART_SEQUENCES)


@pytest.fixture
async def db(services: Services) -> AsyncIterator[Services]:
    """The services, with every table and the in-process cache emptied after
    the test (the next one's rows have the same ids: a stored answer about
    this test's customer 1 must not answer it)."""
    yield services
    # The audit log writes behind: what this test's requests recorded goes in
    # before the tables are emptied, never after (its rows would keep ids
    # the restarted sequences hand out again: the next test's entries were
    # refused as duplicate keys).
    await services.audit.flush()
    async with services.engine.begin() as connection:
        await empty_tables(connection)
    if services.caches is not None and isinstance(
        services.caches.backend, MemoryBackend
    ):
        services.caches.backend.clear()


async def stored_answers(services: Services, customer_id: int | str) -> list[str]:
    """The response cache's entries and fragments under a customer's hash tag
    (``"lists"``: the stored pages), read from the backend itself."""
    responses = services.responses
    assert responses is not None
    backend = responses.backend
    prefix = f"{services.settings.cache_prefix}:response"
    tag = f"{{{customer_id}}}:"
    if isinstance(backend, RedisBackend):
        # The tests' scans ask for 1,000 keys a call: the shared Redis holds
        # every test's keys (thousands), which SCAN's default of 10 walks in
        # a round trip for each ten.
        keys = [
            k.decode()
            async for k in backend.redis.scan_iter(match=f"{prefix}*", count=1000)
        ]
    else:
        assert isinstance(backend, MemoryBackend)
        keys = [k for k in backend._entries if k.startswith(prefix)]
    return sorted(k for k in keys if tag in k)


@pytest.fixture
async def client(db: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(services=db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gateway", headers=ADMIN
    ) as http:
        yield http


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQL:
    async def run(
        query: str, variables: dict[str, Any] | None = None, **kw: Any
    ) -> dict[str, Any]:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables or {}}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    return run


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    @property
    def answering(self) -> int:
        """The statements a request sent to answer: without the audit log's
        batches, which a timer writes whenever it fires."""
        return sum("audit_log" not in s for s in self.statements)

    def reset(self) -> None:
        self.statements.clear()


@contextmanager
def counting_statements(engine: AsyncEngine) -> Iterator[StatementCounter]:
    """Counts the SQL statements ``engine`` sends while the block runs."""
    counter = StatementCounter()

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith("PRAGMA"):
            counter.statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield counter
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


@pytest.fixture
def sql(db: Services) -> Iterator[StatementCounter]:
    """Counts the SQL statements sent while the test runs (the test's own
    services; a gateway opened over other services counts with
    ``counting_statements``)."""
    with counting_statements(db.engine) as counter:
        yield counter


@pytest.fixture(scope="session")
def single_redis_url() -> str:
    """The real Redis of the test run (see tests/servers.py)."""
    require("redis", REDIS_URL, 6379)
    return REDIS_URL


@pytest.fixture(scope="session")
def cluster_redis_url() -> Iterator[str]:
    """A 3-master Redis Cluster on loopback, started once per session."""
    needed("redis-server", "redis-cli")
    with own_cluster() as cluster:
        yield cluster.url


@pytest.fixture(scope="session", params=list(REDIS_KINDS))
def redis_url(request: pytest.FixtureRequest) -> str:
    """Each Redis test runs on one server and on a Redis Cluster."""
    return str(request.getfixturevalue(REDIS_KINDS[request.param]))


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A Redis server of this test's own, to stop, kill and restart."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    with own_redis() as server:
        yield server


@pytest.fixture
def cache_prefix() -> str:
    """A key prefix of this test's own, so runs sharing one Redis never meet."""
    return f"cgtest{uuid.uuid4().hex[:10]}"
