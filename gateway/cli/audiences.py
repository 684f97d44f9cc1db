"""``customer-graph audiences``: the segments kept subscribed to Klaviyo
lists — ``list`` them with their counts, ``sync`` them now (the gateway also
syncs after each scheduled insights refresh). Exit codes: 0 done, 1 Klaviyo
is not configured or a sync failed (what was sent is recorded: rerunning
sends only the rest)."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console
from rich.table import Table

from gateway.settings import Settings

audiences_app = typer.Typer(help="Segments kept subscribed to Klaviyo lists.")
console = Console()


@audiences_app.command("list")
def list_connections() -> None:
    """Each connected segment and list, with its members by state."""
    asyncio.run(_list(Settings.load()))


async def _list(settings: Settings) -> None:
    from gateway.audiences.service import all_connections
    from gateway.runtime.services import open_command_services

    async with open_command_services(settings) as services:
        found = await all_connections(services.sessions)
    table = Table("segment", "list", "subscribed", "removed", "unsubscribed", "synced")
    for c in found:
        synced = c.synced_at.isoformat(timespec="seconds") if c.synced_at else "never"
        table.add_row(
            c.segment,
            f"{c.list_name} ({c.list_id})",
            str(c.subscribed),
            str(c.removed),
            str(c.unsubscribed),
            synced,
        )
    console.print(table)


@audiences_app.command("sync")
def sync() -> None:
    """Read Klaviyo's opt-outs back, then send every connection's entries,
    exits and withdrawn consents to Klaviyo."""
    raise typer.Exit(asyncio.run(_sync(Settings.load())))


async def _sync(settings: Settings) -> int:
    from gateway.audiences.service import all_connections, audiences_for
    from gateway.runtime.services import open_command_services

    async with open_command_services(settings) as services:
        audiences = audiences_for(services)
        if audiences is None:
            console.print("[red]Klaviyo is not configured (CG_KLAVIYO_API_KEY).[/red]")
            return 1
        names = {c.id: c for c in await all_connections(services.sessions)}
        reports = await audiences.sync_all()
    table = Table("segment", "list", "opted out", "entered", "exited", "withdrawn")
    for connection_id, report in reports.items():
        c = names[connection_id]
        table.add_row(
            c.segment,
            c.list_id,
            str(report.opted_out),
            str(report.entered),
            str(report.exited),
            str(report.withdrawn),
        )
    console.print(table)
    failed = {i: r.failure for i, r in reports.items() if r.failure is not None}
    for connection_id, failure in failed.items():
        c = names[connection_id]
        console.print(f"[red]{c.segment} → {c.list_id}: {failure}[/red]")
    return 1 if failed else 0
