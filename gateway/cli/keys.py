"""``customer-graph keys …``, ``customer-graph queries register`` and
``customer-graph audit``: the security layer's command line."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from gateway.auth.policy import Role
from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.runtime.services import Services

keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.")
queries_app = typer.Typer(help="Registered queries for allowlist mode.")
console = Console()
T = TypeVar("T")


def _run(work: Callable[[Services], Awaitable[T]]) -> T:
    from gateway.errors import GatewayError
    from gateway.runtime.services import open_command_services

    async def main() -> T:
        async with open_command_services(Settings.load()) as services:
            return await work(services)

    try:
        return asyncio.run(main())
    except GatewayError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc


def _duration(value: str | None) -> timedelta | None:
    from gateway.auth.keys import MAX_LIFETIME

    if value is None:
        return None
    match = re.fullmatch(r"([0-9]{1,6})([dh])", value.strip())
    amount = int(match[1]) if match else 0
    lifetime = (
        timedelta(days=amount) if match and match[2] == "d" else timedelta(hours=amount)
    )
    if not timedelta(0) < lifetime <= MAX_LIFETIME:
        raise typer.BadParameter(
            "use a positive number of days or hours, at most "
            f"{MAX_LIFETIME.days}d, e.g. 90d or 12h; leave the option out "
            "for a key that never expires",
            param_hint="--expires-in",
        )
    return lifetime


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what uses the key.")],
    role: Annotated[Role, typer.Option(help="admin, support, sales, marketing…")],
    expires_in: str | None = typer.Option(
        None, help="e.g. 90d or 12h; never by default."
    ),
) -> None:
    """Create a key and print it once: only its hash is stored."""
    from gateway.auth.keys import create_key

    expiry = _duration(expires_in)
    key, info = _run(lambda s: create_key(s.sessions, name, role, expires_in=expiry))
    console.print(f"API key for [bold]{info.name}[/bold] ({info.role}):")
    typer.echo(key)
    console.print("[yellow]Store it now: it cannot be shown again.[/yellow]")


@keys_app.command("list")
def keys_list() -> None:
    """Every key, without its secret."""
    from gateway.auth.keys import list_keys

    table = Table("name", "role", "prefix", "created", "expires", "revoked")
    for info in _run(lambda s: list_keys(s.sessions)):
        table.add_row(
            info.name,
            info.role,
            info.prefix + "…",
            f"{info.created_at:%Y-%m-%d %H:%M}",
            f"{info.expires_at:%Y-%m-%d}" if info.expires_at else "never",
            f"{info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(name: str = typer.Argument(..., help="The key's name.")) -> None:
    """Revoke a key; it stops working within seconds on every replica."""
    from gateway.auth.keys import revoke_key

    info = _run(lambda s: revoke_key(s.sessions, name))
    console.print(f"Revoked [bold]{info.name}[/bold].")


@queries_app.command("register")
def queries_register(
    files: Annotated[list[Path], typer.Argument(help="Files of one document each.")],
) -> None:
    """Allow these documents in allowlist mode (CG_PERSISTED_QUERIES_ONLY)."""
    from gateway.admission.persisted import register

    documents = [(path, path.read_text()) for path in files]

    async def work(services: Services) -> list[str]:
        return [
            await register(services.sessions, text, p.stem) for p, text in documents
        ]

    for (path, _), digest in zip(documents, _run(work), strict=True):
        typer.echo(f"{digest}  {path}")


def audit(
    customer: str = typer.Option(
        ..., help="Customer id (its number, or its GraphQL id) or email."
    ),
    limit: int = typer.Option(100, help="Newest entries to show."),
) -> None:
    """Who read this customer's personal data, and who changed what."""
    from gateway.auth.audit import entries_for

    async def work(services: Services) -> list[list[str]]:
        customer_id = await _customer_id(services, customer)
        return [
            [
                f"{e.at:%Y-%m-%d %H:%M:%S}",
                e.subject,
                e.role,
                e.action,
                e.operation or "",
                ", ".join(e.fields),
            ]
            for e in await entries_for(services.sessions, customer_id, limit)
        ]

    table = Table("at", "who", "role", "action", "operation", "fields")
    for row in _run(work):
        table.add_row(*row)
    console.print(table)


async def _customer_id(services: Services, value: str) -> int:
    from sqlalchemy import select

    from gateway.db import models
    from gateway.errors import NotFound
    from gateway.relay.ids import customer_pk
    from gateway.validation import normalize_email

    if value.isdigit():
        return int(value)
    if "@" not in value:  # a GraphQL id (``Q3VzdG9tZXI6…``)
        return customer_pk(value, "customer")
    async with services.sessions() as session:
        found = await session.scalar(
            select(models.Customer.id).where(
                models.Customer.email == normalize_email(value)
            )
        )
    if found is None:
        raise NotFound(f"No customer with email {value}.")
    return found
