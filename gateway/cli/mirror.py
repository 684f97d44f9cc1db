"""``customer-graph mirror backfill``: PostHog's event history into the local
event mirror, within PostHog's budget (shared with every gateway replica, as
background work: ``gateway.mirror.backfill``), with a progress bar
and a summary table (``gateway.mirror.backfill`` does the work). Exit codes:
0 done, 1 PostHog is not configured or failed (progress so far is saved, so
rerunning resumes), 2 bad arguments."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.mirror.backfill import BackfillReport

mirror_app = typer.Typer(help="The local mirror of PostHog's events.")
console = Console()


@mirror_app.command("backfill")
def backfill(
    since: str = typer.Option(
        "90d", help="On a first run (or --full): from Nd, Nh ago or an ISO date."
    ),
    full: bool = typer.Option(
        False, "--full", help="Ignore where the last run stopped."
    ),
    page_size: int | None = typer.Option(
        None,
        min=1,
        max=50_000,
        help="Events per query (default CG_POSTHOG_BACKFILL_PAGE_SIZE).",
    ),
) -> None:
    """Read PostHog's events into the mirror, resuming where the last run stopped."""
    from gateway.sync.backfill import BadSyncInput, parse_since

    try:
        start = parse_since(since)
    except BadSyncInput as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    settings = Settings.load()
    raise typer.Exit(
        asyncio.run(
            _run(
                settings,
                start,
                full=full,
                page_size=page_size or settings.posthog_backfill_page_size,
            )
        )
    )


async def _run(
    settings: Settings, since: datetime, *, full: bool, page_size: int
) -> int:
    from connectors.errors import ConnectorError
    from gateway.mirror.backfill import backfill_events
    from gateway.runtime.services import open_command_services

    async with open_command_services(settings) as services:
        posthog = services.upstreams.posthog
        if posthog is None:
            console.print(
                "[red]PostHog is not configured: set CG_POSTHOG_HOST, "
                "CG_POSTHOG_PROJECT_ID and CG_POSTHOG_API_KEY.[/red]"
            )
            return 1
        columns = (SpinnerColumn(), TextColumn("{task.description}"))
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("Reading PostHog events", total=None)
            read = 0

            def advance(count: int) -> None:
                nonlocal read
                read += count
                progress.update(
                    task, description=f"Reading PostHog events: {read:,} read"
                )

            try:
                report = await backfill_events(
                    services.sessions,
                    posthog,
                    since=since,
                    full=full,
                    page_size=page_size,
                    progress=advance,
                )
            except ConnectorError as exc:
                console.print(
                    f"[red]Backfill stopped: {exc.connector} failed ({exc.code}). "
                    "Progress is saved; run the command again to resume.[/red]"
                )
                return 1
        if report.stored:
            await services.forget_responses()
    console.print(summary(report))
    return 0


def summary(report: BackfillReport) -> Table:
    table = Table(title="mirror backfill")
    table.add_column("")
    table.add_column("", justify="right")
    for name, value in report.rows():
        table.add_row(name, value)
    return table
