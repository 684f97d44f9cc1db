"""``customer-graph worker``: a process that only runs jobs (``gateway.jobs``).

Beside ``serve`` processes started with ``CG_JOBS_WORKER=false``, or as more
hands for a backlog. Jobs are shared through PostgreSQL; on SQLite the engine
keeps jobs in memory, so a worker of its own would see none of the gateway's.
"""

from __future__ import annotations

import asyncio

import typer

from gateway.db import budget
from gateway.settings import Settings


def worker(
    until_idle: bool = typer.Option(
        False, "--until-idle", help="Run the jobs due now, then exit."
    ),
) -> None:
    """Run background jobs (automations, deliveries) until stopped."""
    settings = Settings.load()
    budget.check(settings)
    raise typer.Exit(asyncio.run(_run(settings, until_idle=until_idle)))


async def _run(settings: Settings, *, until_idle: bool) -> int:
    from gateway.app import BLUEPRINTS
    from gateway.jobs.engine import is_durable
    from gateway.jobs.worker import drain, run_until_stopped
    from gateway.runtime.services import open_command_services

    async with open_command_services(settings) as services:
        if not is_durable(services.jobs):
            typer.echo(
                "Jobs are kept in memory on SQLite: run them in `serve` "
                "(CG_JOBS_WORKER) or use PostgreSQL.",
                err=True,
            )
            return 1
        run = drain if until_idle else run_until_stopped
        await run(services.jobs, settings, services, BLUEPRINTS)
    return 0
