"""``CG_DATABASE_READ_URL``: lists, summaries and exports read from the
replica, writes and a customer's own view from the primary. The "replica" is
the same database under another URL, so the test counts statements per
engine rather than comparing data."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.db.session import upgrade
from gateway.runtime.services import open_services
from tests.integration.db.gateway import (
    CREATE,
    LIST,
    SUMMARY,
    graphql,
    graphql_client,
    settings_for,
)


def count_statements(engine: AsyncEngine, seen: Counter[str]) -> None:
    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen[statement.split(None, 1)[0].upper()] += 1

    event.listen(engine.sync_engine, "before_cursor_execute", before)


async def test_lists_and_summaries_read_from_the_replica_and_writes_go_to_the_primary(
    empty_database: str,
) -> None:
    await asyncio.to_thread(upgrade, empty_database)
    replica_url = empty_database.replace("@127.0.0.1:", "@localhost:")
    assert replica_url != empty_database
    settings = settings_for(empty_database, database_read_url=replica_url)
    primary, replica = Counter[str](), Counter[str]()
    async with open_services(settings) as services, graphql_client(services) as client:
        assert services.read_sessions is not None
        count_statements(services.engine, primary)
        read_bind = services.read_sessions.kw["bind"]
        count_statements(read_bind, replica)
        assert str(read_bind.url) != str(services.engine.url)

        await graphql(client, CREATE, e="ana@example.com")
        assert primary["INSERT"] >= 1
        assert replica == Counter()

        primary.clear()
        listed = await graphql(client, LIST)
        await graphql(client, SUMMARY)
        export = await client.get("/segments/none/export")
        assert len(listed["customers"]["edges"]) == 1
        assert export.status_code == 404
        assert replica["SELECT"] >= 3
        assert primary["SELECT"] == 0
        assert replica["INSERT"] + replica["UPDATE"] + replica["DELETE"] == 0


async def test_without_a_read_url_every_read_goes_to_the_primary(
    empty_database: str,
) -> None:
    await asyncio.to_thread(upgrade, empty_database)
    async with open_services(settings_for(empty_database)) as services:
        assert services.read_sessions is None
        assert services.reads is services.sessions
