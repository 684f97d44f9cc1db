"""The gateway behind a real PgBouncer in transaction mode
(``CG_DATABASE_PGBOUNCER``): queries, mutations, an insights refresh and a
job, many at once over few server connections, with no error."""

from __future__ import annotations

import asyncio

from procrastinate import Blueprint

from gateway.db.session import check_migrated, upgrade
from gateway.insights.refresh import refresh_all
from gateway.jobs.deferral import Job, defer_with
from gateway.jobs.worker import drain
from gateway.runtime.services import open_services
from gateway.settings import Settings
from tests.integration.db.gateway import (
    CREATE,
    LIST,
    NOTE,
    SUMMARY,
    graphql,
    graphql_client,
    settings_for,
)
from tests.integration.db.pgbouncer import running_pgbouncer
from tests.servers import POSTGRES_URL

RAN: list[int] = []


def probe(settings: Settings) -> Blueprint:
    tasks = Blueprint()

    @tasks.task(name="ran")
    async def ran(value: int) -> None:
        RAN.append(value)

    return tasks


async def test_the_gateway_answers_through_pgbouncer_in_transaction_mode(
    empty_database: str,
) -> None:
    await asyncio.to_thread(upgrade, empty_database)
    name = empty_database.rsplit("/", 1)[1]
    async with running_pgbouncer(POSTGRES_URL, pool=2) as port:
        settings = settings_for(
            f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{name}",
            database_pgbouncer=True,
            database_pool_size=8,
            database_max_overflow=0,
        )
        await check_migrated(settings.database_url, pgbouncer=True)
        async with (
            open_services(settings) as services,
            graphql_client(services) as client,
        ):
            created = await asyncio.gather(
                *(graphql(client, CREATE, e=f"c{i}@example.com") for i in range(16))
            )
            ids = [c["createCustomer"]["id"] for c in created]
            await asyncio.gather(*(graphql(client, NOTE, c=i) for i in ids))
            for _ in range(3):  # each statement more than once, on 8 clients
                lists = await asyncio.gather(
                    *(graphql(client, LIST) for _ in range(16))
                )
                assert all(len(r["customers"]["edges"]) == 16 for r in lists)
            await refresh_all(services.sessions, settings)
            await graphql(client, SUMMARY)
            RAN.clear()
            async with services.sessions() as session, session.begin():
                await defer_with(
                    session, services.jobs, "probe:ran", [Job({"value": 7})]
                )
            await drain(services.jobs, settings, services, {"probe": probe})
            assert RAN == [7]
