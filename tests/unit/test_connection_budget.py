"""``CG_DATABASE_MAX_CONNECTIONS``: a replica whose pools could open more
connections than its share refuses to start, in one line naming the settings."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from gateway.cli.main import app
from gateway.db import budget
from gateway.settings import Settings

POSTGRES = "postgresql+asyncpg://gateway@db/customer_graph"


def test_one_process_opens_its_pool_its_overflow_and_the_job_engine_pool() -> None:
    settings = Settings(database_url=POSTGRES)
    assert budget.per_process(settings) == 10 + 20 + 4


def test_a_read_replica_doubles_the_sqlalchemy_pools() -> None:
    settings = Settings(database_url=POSTGRES, database_read_url=POSTGRES)
    assert budget.per_process(settings) == 2 * (10 + 20) + 4


def test_sqlite_opens_no_postgresql_connection() -> None:
    assert budget.per_process(Settings(database_url="sqlite+aiosqlite:///x.db")) == 0


def test_workers_within_the_ceiling_start() -> None:
    settings = Settings(
        database_url=POSTGRES,
        database_pool_size=5,
        database_max_overflow=5,
        jobs_pool_size=2,
        database_max_connections=48,
    )
    budget.check(settings, processes=4)


def test_workers_past_the_ceiling_are_refused_in_one_line() -> None:
    settings = Settings(database_url=POSTGRES, database_max_connections=50)
    with pytest.raises(budget.ConnectionBudgetExceeded) as refused:
        budget.check(settings, processes=2)
    message = refused.value.message
    assert "\n" not in message
    assert "2 process(es) × ((10 CG_DATABASE_POOL_SIZE + 20 " in message
    assert "= 68 connections > CG_DATABASE_MAX_CONNECTIONS=50" in message
    assert "gateway@db" not in message


def test_no_ceiling_no_check() -> None:
    budget.check(Settings(database_url=POSTGRES), processes=64)


def test_serve_refuses_workers_past_the_ceiling_before_touching_the_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CG_DATABASE_URL", POSTGRES)
    monkeypatch.setenv("CG_DATABASE_MAX_CONNECTIONS", "100")
    result = CliRunner().invoke(app, ["serve", "--workers", "4"])
    assert result.exit_code == 1
    assert isinstance(result.exception, budget.ConnectionBudgetExceeded)
    assert "4 process(es)" in str(result.exception)
