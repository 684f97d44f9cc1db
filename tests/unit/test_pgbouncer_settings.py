"""What ``CG_DATABASE_PGBOUNCER`` and ``CG_JOBS_DATABASE_URL`` change: no
prepared statement kept by asyncpg, and job workers that listen only on a
direct connection (PgBouncer's transaction mode drops ``LISTEN``)."""

from __future__ import annotations

from gateway.db.session import PGBOUNCER_CONNECT_ARGS
from gateway.jobs.engine import jobs_database_url, listens
from gateway.settings import Settings

BOUNCER = "postgresql+asyncpg://gateway@pgbouncer:6432/customer_graph"
DIRECT = "postgresql+asyncpg://gateway@db:5432/customer_graph"


def test_behind_pgbouncer_asyncpg_caches_no_statement_and_names_each_uniquely() -> None:
    """(The integration test behind a real PgBouncer fails without them.)"""
    args = PGBOUNCER_CONNECT_ARGS
    assert args["statement_cache_size"] == 0
    assert args["prepared_statement_cache_size"] == 0
    name = args["prepared_statement_name_func"]
    assert callable(name)
    assert name() != name()


def test_job_workers_listen_unless_only_pgbouncer_leads_to_the_database() -> None:
    direct = Settings(database_url=DIRECT)
    bounced = Settings(database_url=BOUNCER, database_pgbouncer=True)
    both = Settings(
        database_url=BOUNCER, database_pgbouncer=True, jobs_database_url=DIRECT
    )
    assert listens(direct)
    assert jobs_database_url(direct) == DIRECT
    assert not listens(bounced)
    assert jobs_database_url(bounced) == BOUNCER
    assert listens(both)
    assert jobs_database_url(both) == DIRECT
