"""``customer-graph insights …`` and ``customer-graph segments …`` commands."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from gateway.settings import Settings

insights_app = typer.Typer(help="Traits, RFM and segment membership.")
segments_app = typer.Typer(help="Saved segments.")
console = Console(stderr=True)
EX_TEMPFAIL = 75
"""Exit status of a refresh that found another one running: try again later."""
EX_PARTIAL = 3
"""Exit status of a refresh that skipped segments it could not evaluate (the
rest is refreshed and committed)."""


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    )


@insights_app.command("refresh")
def refresh() -> None:
    """Recompute every customer's traits, the RFM scores and segment members."""
    from gateway.insights.refresh import STEPS, RefreshRunning, refresh_all
    from gateway.runtime.services import open_command_services

    async def run() -> list[int]:
        async with open_command_services(Settings.load()) as services:
            with _progress() as progress:
                task = progress.add_task("Refreshing insights", total=len(STEPS))
                skipped = await refresh_all(
                    services.sessions,
                    services.settings,
                    step_done=lambda step: progress.advance(task),
                )
            await services.forget_responses()
            return skipped

    try:
        skipped = asyncio.run(run())
    except RefreshRunning as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(EX_TEMPFAIL) from None
    console.print("[green]Insights refreshed.[/green]")
    if skipped:
        ids = ", ".join(map(str, skipped))
        console.print(
            f"[yellow]{len(skipped)} segment(s) skipped, their filters cannot be "
            f"evaluated (ids {ids}): recreate them.[/yellow]"
        )
        raise typer.Exit(EX_PARTIAL)


@insights_app.command("sync-orders")
def sync_orders_command() -> None:
    """Copy the orders of every Shopify-linked customer into the order facts,
    and the store's recent abandoned checkouts of those customers."""
    from gateway.insights.checkout_facts import sync_checkouts
    from gateway.insights.engagement import count_links
    from gateway.insights.order_facts import sync_orders
    from gateway.runtime.services import open_command_services

    async def run() -> tuple[int, int]:
        async with open_command_services(Settings.load()) as services:
            shopify = services.upstreams.shopify
            if shopify is None:
                console.print("[red]Shopify is not configured.[/red]")
                raise typer.Exit(2)
            total = await count_links(services.sessions, ("shopify",))
            with _progress() as progress:
                task = progress.add_task("Copying orders", total=total)
                orders = await sync_orders(
                    services.sessions, shopify, lambda n: progress.advance(task, n)
                )
            return orders, await sync_checkouts(services.sessions, shopify)

    orders, checkouts = asyncio.run(run())
    console.print(f"[green]{orders} orders and {checkouts} checkouts stored.[/green]")


@insights_app.command("sync-engagement")
def sync_engagement_command() -> None:
    """Copy ticket counts, ratings and last-seen (the PostHog event mirror's)."""
    from gateway.db.models import utcnow
    from gateway.insights.engagement import count_links, sync_engagement
    from gateway.runtime.services import open_command_services

    async def run() -> int:
        async with open_command_services(Settings.load()) as services:
            total = await count_links(services.sessions, ("zendesk", "posthog"))
            with _progress() as progress:
                task = progress.add_task("Copying engagement", total=total)
                return await sync_engagement(
                    services.sessions,
                    services.upstreams,
                    utcnow(),
                    lambda n: progress.advance(task, n),
                    live_fallback=services.settings.posthog_live_fallback,
                )

    console.print(f"[green]{asyncio.run(run())} customers updated.[/green]")


@segments_app.command("export")
def export(
    name: str = typer.Argument(..., help="The saved segment."),
    format: str = typer.Option("csv", "--format", help="csv or jsonl."),
    channel: str | None = typer.Option(
        None, help="email or sms: only customers who consented to it."
    ),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Default: stdout.")
    ] = None,
) -> None:
    """Stream a segment's members as CSV or JSON lines, audited per customer
    under ``cli:<login name>`` as the HTTP export is under its caller."""
    from gateway.errors import GatewayError
    from gateway.insights.export import ExportRequest, FullAccess, export_segment
    from gateway.insights.export_audit import audited_export, command_line_operator
    from gateway.insights.segments import segment_by_name
    from gateway.runtime.services import open_command_services

    async def run() -> None:
        request = ExportRequest(name, format, channel)
        async with open_command_services(Settings.load()) as services:
            async with services.sessions() as session:
                await segment_by_name(session, name)  # before anything is audited
            shown = audited_export(services.audit, command_line_operator(), name)
            sink = output.open("wb") if output else sys.stdout.buffer
            try:
                async for chunk in export_segment(
                    services.sessions, request, FullAccess(), shown
                ):
                    sink.write(chunk)
            finally:
                if output:
                    sink.close()

    try:
        asyncio.run(run())
    except GatewayError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
