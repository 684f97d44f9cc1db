"""The command line: schema, db upgrade."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app

runner = CliRunner()


def test_schema_prints_the_sdl_with_the_customer_and_connection_types() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    for expected in (
        "type Customer implements Node",
        "type CustomerConnection",
        "type CustomerEdge",
        "type PageInfo",
        "interface Node",
    ):
        assert expected in result.stdout


def test_db_upgrade_creates_every_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "cg.db"
    monkeypatch.setenv("CG_DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(database) as connection:
        tables = {
            r[0]
            for r in connection.execute(
                "select name from sqlite_master where type='table'"
            )
        }
    assert {
        "customers",
        "addresses",
        "identities",
        "tags",
        "notes",
        "consents",
        "loyalty_entries",
        "preferences",
        "alembic_version",
    } <= tables
