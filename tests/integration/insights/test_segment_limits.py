"""A segment filter too large or malformed to evaluate is refused before
anything is written, and a full refresh skips (and reports) a saved segment it
cannot evaluate instead of failing for every segment."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from gateway.cli.main import app as cli
from gateway.insights.refresh import refresh_all
from gateway.insights.segment_filter import MAX_NODES
from gateway.insights.tables import Segment, SegmentMember
from gateway.runtime.services import Services
from tests.conftest import GraphQL
from tests.integration.insights.facts import NOW, add_customer

CREATE = (
    "mutation($n: String!, $f: SegmentFilter!)"
    " { createSegment(name: $n, filter: $f) { name } }"
)
WIDE: dict[str, Any] = {"or": [{"tagsAny": [f"t{i}"]} for i in range(2000)]}


async def count(db: Services, table: type[Any]) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


@pytest.mark.parametrize(
    "spec",
    [
        WIDE,
        {"tagsAny": [f"t{i}" for i in range(MAX_NODES + 1)]},
        {"not": {"not": {"not": {"not": {"not": {"not": {"not": {"not": {}}}}}}}}},
        {"tagsAny": ["x" * 10_000]},
        {"lastOrderAt": {"lastDays": 2**31 - 1}},
        {"birthMonth": 13},
    ],
    ids=["or-2000", "list-over-bound", "nested-9", "long-tag", "huge-days", "month"],
)
async def test_an_oversized_or_malformed_filter_is_refused_and_leaves_no_segment(
    gql: GraphQL, db: Services, spec: dict[str, Any]
) -> None:
    answer = await gql(CREATE, {"n": "wide", "f": spec})
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert await count(db, Segment) == 0


async def test_a_filter_at_the_bound_is_saved_and_evaluated(
    gql: GraphQL, db: Services
) -> None:
    await add_customer(db, "a@example.com")
    widest = {"or": [{"tagsAny": [f"t{i}"]} for i in range((MAX_NODES - 1) // 2)]}
    answer = await gql(CREATE, {"n": "widest", "f": widest})
    assert answer["data"]["createSegment"]["name"] == "widest", answer


async def saved_unevaluable_segment(db: Services) -> tuple[int, int]:
    """A segment saved before the bounds existed, and a good one after it."""
    await add_customer(db, "a@example.com")
    async with db.sessions() as session, session.begin():
        bad = Segment(name="wide", filter=WIDE, created_at=NOW)
        good = Segment(name="all", filter={}, created_at=NOW)
        session.add_all([bad, good])
        await session.flush()
        return bad.id, good.id


async def test_a_refresh_skips_a_segment_it_cannot_evaluate_and_refreshes_the_rest(
    db: Services, caplog: pytest.LogCaptureFixture
) -> None:
    bad, good = await saved_unevaluable_segment(db)
    with caplog.at_level(logging.WARNING, logger="gateway.insights"):
        skipped = await refresh_all(db.sessions, db.settings, NOW)
    assert skipped == [bad]
    assert f"segment {bad} skipped" in caplog.text
    assert "SELECT" not in caplog.text
    async with db.sessions() as session:
        members = await session.scalars(select(SegmentMember.segment_id))
        assert set(members) == {good}


async def test_the_refresh_command_reports_skipped_segments_with_their_own_status(
    db: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad, _ = await saved_unevaluable_segment(db)
    monkeypatch.setenv("CG_DATABASE_URL", db.settings.database_url)
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["insights", "refresh"])
    assert result.exit_code == 3, result.output
    assert "1 segment(s) skipped" in result.output
    assert f"ids {bad}" in result.output


@pytest.mark.parametrize("name", ["two\r\nlines", "tab\there", "bell\x07"])
async def test_a_segment_name_with_line_breaks_or_controls_is_refused(
    gql: GraphQL, db: Services, name: str
) -> None:
    answer = await gql(CREATE, {"n": name, "f": {}})
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert await count(db, Segment) == 0


@pytest.mark.parametrize(
    ("name", "fallback"),
    [
        ("Stammkunden München", "Stammkunden M_nchen.csv"),
        ('say "hi"; x=1', "say _hi__ x=1.csv"),
        ("saved\r\nbefore", "saved__before.csv"),
    ],
)
async def test_an_export_names_any_segment_in_an_encoded_header(
    client: httpx.AsyncClient, db: Services, name: str, fallback: str
) -> None:
    async with db.sessions() as session, session.begin():
        session.add(Segment(name=name, filter={}, created_at=NOW))
    response = await client.get(f"/segments/{quote(name, safe='')}/export")
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert disposition == (
        f'attachment; filename="{fallback}"; '
        f"filename*=UTF-8''{quote(name + '.csv', safe='')}"
    )
