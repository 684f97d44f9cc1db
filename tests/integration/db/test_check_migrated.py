"""Which databases a release serves on: every migration it knows applied, or
a newer release's (the old replicas of a rolling deploy, an old pod restarted
after the upgrade, a rollback); never one a migration behind."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from gateway.db.readiness import DatabaseNotReady
from gateway.db.session import alembic_config, check_migrated, upgrade


def _at(path: Path, replaced: str | None, revision: str) -> str:
    """A migrated database whose head ``replaced`` (every head: ``None``)
    stands at ``revision`` instead."""
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    with sqlite3.connect(path) as connection:
        if replaced is None:
            connection.execute("DELETE FROM alembic_version")
        else:
            connection.execute(
                "DELETE FROM alembic_version WHERE version_num = ?", (replaced,)
            )
        connection.execute("INSERT INTO alembic_version VALUES (?)", (revision,))
    return url


def test_a_database_a_newer_release_migrated_is_served_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = _at(tmp_path / "ahead.db", None, "0099_from_a_newer_release")
    with caplog.at_level(logging.WARNING, logger="gateway.db.session"):
        asyncio.run(check_migrated(url))
    assert "0099_from_a_newer_release" in caplog.text


def test_a_database_a_migration_behind_is_refused(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'behind.db'}"
    script = ScriptDirectory.from_config(alembic_config(url))
    newest = max(script.get_heads())
    previous = script.get_revision(newest).down_revision
    assert isinstance(previous, str)
    _at(tmp_path / "behind.db", newest, previous)
    with pytest.raises(DatabaseNotReady, match="not migrated"):
        asyncio.run(check_migrated(url))
