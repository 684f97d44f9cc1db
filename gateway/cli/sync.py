"""``customer-graph sync`` on a terminal: checks the arguments, opens the
services, shows a progress bar while ``gateway.sync.backfill`` works, and ends with a
summary table. Exit codes: 0 done, 1 the upstream is not configured or failed
(progress so far is saved, so rerunning resumes), 2 bad arguments."""

from __future__ import annotations

import asyncio
from datetime import datetime

from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress
from rich.table import Table

from connectors.errors import ConnectorError
from gateway.changes.bus import CustomerChange
from gateway.runtime.services import open_command_services
from gateway.settings import Settings
from gateway.sync.backfill import (
    SOURCES,
    BadSyncInput,
    SyncReport,
    count_customers,
    link_customers,
    parse_since,
    sync_shopify,
)


def run_sync(
    settings: Settings, source: str, since: str, *, full: bool, console: Console
) -> int:
    """Run one backfill; returns the process exit code."""
    if source not in SOURCES:
        console.print(
            f"[red]Unknown source {source!r}: use one of {', '.join(SOURCES)}.[/red]"
        )
        return 2
    try:
        start = parse_since(since)
    except BadSyncInput as exc:
        console.print(f"[red]{exc}[/red]")
        return 2
    return asyncio.run(_run(settings, source, start, full=full, console=console))


async def _run(
    settings: Settings, source: str, since: datetime, *, full: bool, console: Console
) -> int:
    async with open_command_services(settings) as services:
        upstreams = services.upstreams
        connector = {
            "shopify": upstreams.shopify,
            "zendesk": upstreams.zendesk,
            "posthog": upstreams.posthog,
        }[source]
        if connector is None:
            console.print(
                f"[red]{source} is not configured: set the CG_{source.upper()}_* "
                "variables.[/red]"
            )
            return 1
        columns = (*Progress.get_default_columns(), MofNCompleteColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            try:
                if upstreams.shopify is not None and source == "shopify":
                    task = progress.add_task("Syncing Shopify customers", total=None)
                    report = await sync_shopify(
                        services.sessions,
                        upstreams.shopify,
                        since,
                        full=full,
                        progress=lambda n: progress.advance(task, n),
                        rules=services.match_rules,
                    )
                else:
                    total = await count_customers(services.sessions)
                    task = progress.add_task(f"Linking to {source}", total=total)
                    report = await link_customers(
                        services.sessions,
                        connector,
                        full=full,
                        progress=lambda n: progress.advance(task, n),
                        rules=services.match_rules,
                    )
            except ConnectorError as exc:
                console.print(
                    f"[red]Sync stopped: {exc.connector} failed ({exc.code}). "
                    "Progress is saved; run the command again to resume.[/red]"
                )
                return 1
        # evicts cached "unknown upstream" marks (shared through Redis)
        await services.changes.publish(
            *(CustomerChange(cid, source, "sync") for cid in report.touched)
        )
    console.print(summary(report))
    return 0


def summary(report: SyncReport) -> Table:
    table = Table(title=f"sync {report.source}")
    table.add_column("")
    table.add_column("count", justify="right")
    if report.started_from is not None:
        table.add_row(
            "changed since", report.started_from.isoformat(timespec="seconds")
        )
    for name, value in report.rows():
        table.add_row(name, str(value))
    return table
