"""``keys create --expires-in``: a lifetime is positive and bounded; only leaving
the option out makes a key that never expires."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from gateway.auth.keys import create_key, list_keys
from gateway.auth.policy import Role
from gateway.cli.main import app as cli
from gateway.db.auth_models import ApiKey
from gateway.runtime.services import Services


async def key_rows(db: Services) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(ApiKey)) or 0)


async def create_from_the_command_line(lifetime: str) -> Result:
    args = ["keys", "create", "--name", "n", "--role", "support"]
    return await asyncio.to_thread(
        CliRunner().invoke, cli, [*args, "--expires-in", lifetime]
    )


@pytest.mark.parametrize(
    "lifetime", ["0h", "0d", "-1d", "-5h", "ten days", "90", "1w", "9999999999d", ""]
)
async def test_a_zero_negative_huge_or_garbled_lifetime_is_refused_and_no_key_made(
    db: Services, monkeypatch: pytest.MonkeyPatch, lifetime: str
) -> None:
    monkeypatch.setenv("CG_DATABASE_URL", db.settings.database_url)
    result = await create_from_the_command_line(lifetime)
    assert result.exit_code == 2
    assert "--expires-in" in result.output
    assert "cg_" not in result.output
    assert await key_rows(db) == 0


async def test_a_lifetime_in_days_sets_the_expiry(
    db: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CG_DATABASE_URL", db.settings.database_url)
    result = await create_from_the_command_line("90d")
    assert result.exit_code == 0, result.output
    (info,) = await list_keys(db.sessions)
    assert info.expires_at is not None


async def test_a_zero_lifetime_given_to_the_library_makes_an_expired_key_not_an_eternal_one(
    db: Services,
) -> None:
    await create_key(db.sessions, "n", Role.SUPPORT, expires_in=timedelta(0))
    (info,) = await list_keys(db.sessions)
    assert info.expires_at is not None
