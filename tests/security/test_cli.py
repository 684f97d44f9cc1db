"""The command line where it creates credentials or reads personal data: no
key that never expires by mistake, no ``embed`` key, exports audited per
customer, errors without tracebacks."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.auth.policy import EXPORT_COLUMNS, Role
from gateway.cli.main import app as cli
from gateway.db.auth_models import AuditEntry
from tests.security.conftest import SEGMENT, Stage
from tests.security.leaks import internals
from tests.security.surfaces import Surface, send


async def invoke(
    stage: Stage, monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str]:
    monkeypatch.setenv("CG_DATABASE_URL", stage.services.settings.database_url)
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args))
    return result.exit_code, result.output


async def test_the_cli_refuses_an_api_key_with_the_embed_role(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = await invoke(
        stage,
        monkeypatch,
        "keys",
        "create",
        "--name",
        "sec-embed-key",
        "--role",
        Role.EMBED,
    )
    assert code != 0, output
    assert "cg_" not in output


async def test_a_key_created_to_expire_at_once_never_authenticates(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = await invoke(
        stage,
        monkeypatch,
        "keys",
        "create",
        "--name",
        "sec-zero",
        "--role",
        "admin",
        "--expires-in",
        "0h",
    )
    keys = [line for line in output.splitlines() if line.startswith("cg_")]
    if code != 0:
        assert not keys
        return
    answer = await send(stage, Surface.HTTP_POST, f"Bearer {keys[0]}", "{ __typename }")
    assert answer.status == 401, "a key made with --expires-in 0h never expires"


async def test_a_cli_export_is_audited_per_customer(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = await invoke(
        stage, monkeypatch, "segments", "export", SEGMENT, "--format", "jsonl"
    )
    assert code == 0, output
    exported = [json.loads(line) for line in output.splitlines() if line[:1] == "{"]
    assert stage.subject.pk in {row["customer_id"] for row in exported}
    async with stage.services.sessions() as session:
        entries = list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.subject.startswith("cli:"))
            )
        )
    reads = {
        e.customer_id: e.fields
        for e in entries
        if (e.action, e.operation) == ("read", "segmentExport")
    }
    assert reads == {
        row["customer_id"]: sorted(c for c in EXPORT_COLUMNS if row[c] is not None)
        for row in exported
    }, "the CLI export left no per-customer audit entry for some customers"
    writes = [e.operation for e in entries if e.action == "write"]
    assert writes == [f"export:{SEGMENT}"]
    assert {e.role for e in entries} == {Role.ADMIN.value}


async def test_a_cli_export_of_an_unknown_segment_fails_without_a_traceback(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = await invoke(
        stage, monkeypatch, "segments", "export", "no such\r\nsegment"
    )
    assert code == 2, output
    assert not internals(output), output
