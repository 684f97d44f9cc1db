"""The command line: schema, db upgrade."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from gateway.cli import main as cli_module
from gateway.cli.main import app
from gateway.db.session import upgrade
from gateway.settings import Settings

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


def customer_graph(
    *args: str, cwd: Path, **environment: str
) -> subprocess.CompletedProcess[str]:
    """The real entry point (``main``), as a shell runs it, without CG_ variables
    other than ``environment``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CG_")}
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", *args],
        cwd=cwd,
        env={**env, **environment},
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_command_without_a_database_says_so_in_one_line_and_creates_nothing(
    tmp_path: Path,
) -> None:
    done = customer_graph("keys", "list", cwd=tmp_path)
    database = tmp_path / "customer-graph.db"
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"No database at {database}: run `customer-graph db upgrade` "
        "(or `customer-graph demo`), or set CG_DATABASE_URL."
    ]
    assert not database.exists()


def test_a_command_on_an_unmigrated_database_asks_for_db_upgrade(
    tmp_path: Path,
) -> None:
    database = tmp_path / "empty.db"
    sqlite3.connect(database).close()
    done = customer_graph(
        "audit", "--customer", "maya@example.com", cwd=tmp_path,
        CG_DATABASE_URL=f"sqlite+aiosqlite:///{database}",
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "The database is not migrated: run `customer-graph db upgrade`."
    ]


def test_an_unreachable_database_is_one_line_naming_no_credentials(
    tmp_path: Path,
) -> None:
    url = "postgresql+asyncpg://admin:s3cret@127.0.0.1:1/crm"
    done = customer_graph("keys", "list", cwd=tmp_path, CG_DATABASE_URL=url)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "Cannot reach the database (ConnectionRefusedError): check CG_DATABASE_URL."
    ]


def test_serve_refuses_to_start_without_a_database(tmp_path: Path) -> None:
    done = customer_graph("serve", "--port", "1", cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "customer-graph db upgrade" in done.stderr


def test_commands_run_beside_a_demo_read_its_settings_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``demo`` writes customer-graph.env; the entry point reads it from the
    working directory for whatever the environment leaves unset."""
    database = tmp_path / "customer-graph-demo.db"
    upgrade(f"sqlite+aiosqlite:///{database}")
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{database}",
        demo_api_key=SecretStr("cg_demo_key"),
        ingest_write_key=SecretStr("wk_demo"),
    )
    monkeypatch.chdir(tmp_path)
    cli_module._write_settings_file(settings)
    written = tmp_path / cli_module.SETTINGS_FILE
    assert written.stat().st_mode & 0o777 == 0o600
    done = customer_graph("keys", "list", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "customer-graph.db").exists()


HEAVY = ("sqlalchemy", "strawberry", "aiohttp", "uvicorn", "alembic", "redis")
"""What a command imports when it runs, never ``--help`` or a refusal."""


@pytest.mark.parametrize(
    "args",
    [["--help"], ["keys", "create", "--help"], ["keys", "create", "--name", "x"]],
    ids=["help", "a command's help", "a missing option"],
)
def test_help_and_refused_arguments_import_none_of_the_gateway(
    tmp_path: Path, args: list[str]
) -> None:
    """Counted in modules, not seconds: the command line's modules import
    only Typer, Rich and the settings at their top."""
    probe = (
        "import sys, runpy\n"
        f"sys.argv = ['customer-graph', *{args!r}]\n"
        "try:\n"
        "    runpy.run_module('gateway.cli.main', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout.splitlines()[-1] == "[]", done.stdout + done.stderr
