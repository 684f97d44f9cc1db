"""``customer-graph purge [--dry-run]``: the retention purge the job engine
runs hourly (``gateway.retention``), now, with a table of counts per table
(``--dry-run``: what would go; nothing changes). Needs only the database."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.retention.purge import Purged

console = Console()


def purge_command(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Count what is past retention; delete nothing."
    ),
) -> None:
    """Purge what is past retention (CG_RETENTION_*), printing counts per table."""
    settings = Settings.load()
    console.print(summary(asyncio.run(_run(settings, dry_run=dry_run)), dry_run))


async def _run(settings: Settings, *, dry_run: bool) -> list[Purged]:
    from gateway.db.session import check_migrated, session_factory, settings_engine
    from gateway.retention.purge import purge

    await check_migrated(settings.database_url, pgbouncer=settings.database_pgbouncer)
    engine = settings_engine(settings)
    try:
        return await purge(session_factory(engine), settings, dry_run=dry_run)
    finally:
        await engine.dispose()


def summary(report: list[Purged], dry_run: bool) -> Table:
    table = Table(title="retention purge" + (" (dry run)" if dry_run else ""))
    table.add_column("table")
    table.add_column("kept", justify="right")
    table.add_column("past retention" if dry_run else "purged", justify="right")
    for purged in report:
        kept = f"{purged.kept_days} days" if purged.kept_days else "forever"
        table.add_row(purged.name, kept, f"{purged.rows:,}")
    return table
