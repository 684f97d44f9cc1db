"""The ``customer-graph`` command line.

Every command reads the same settings as ``serve``: the ``CG_*`` environment,
then ``customer-graph.env`` in the working directory for what the environment
leaves unset (``customer-graph demo`` writes that file, so ``keys list`` or
``audit`` run beside a demo find the demo's database and keys). A command that
needs the database checks first that it is reachable and migrated, and says
so in one line with exit status 1.

The commands' modules (``gateway/cli/``) import at their top only Typer, Rich
and the settings; what a command runs is imported when it runs. So ``--help``
or a refused argument answers at once, and a command loads only its own work
(``customer-graph --help``: 0.3 s, not the 2 s of importing the whole
gateway; ``tests/integration/gateway/test_cli.py``).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import typer
from dotenv import load_dotenv
from pydantic import SecretStr
from rich.console import Console
from rich.progress import Progress

from gateway.cli.audiences import audiences_app
from gateway.cli.insights import insights_app, segments_app
from gateway.cli.keys import audit, keys_app, queries_app
from gateway.cli.mirror import mirror_app
from gateway.cli.retention import purge_command
from gateway.cli.worker import worker
from gateway.db import budget
from gateway.db.readiness import DatabaseNotReady
from gateway.settings import Settings

app = typer.Typer(help="Customer Graph: one GraphQL customer graph over every source.")
db_app = typer.Typer(help="Database commands.")
app.add_typer(db_app, name="db")
app.add_typer(insights_app, name="insights")
app.add_typer(segments_app, name="segments")
app.add_typer(keys_app, name="keys")
app.add_typer(queries_app, name="queries")
app.add_typer(mirror_app, name="mirror")
app.add_typer(audiences_app, name="audiences")
app.command()(audit)
app.command()(worker)
app.command("purge")(purge_command)
console = Console()

SETTINGS_FILE = "customer-graph.env"
"""Read from the working directory by every command; written by ``demo``."""


def main() -> None:
    """The ``customer-graph`` entry point: the settings file, then the command;
    a database that is unreachable or not migrated is one line, exit 1."""
    load_dotenv(Path.cwd() / SETTINGS_FILE, override=False)
    try:
        app()
    except DatabaseNotReady as exc:
        typer.echo(exc.message, err=True)
        sys.exit(1)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, help="Worker processes."),
) -> None:
    """Run the gateway, configured by CG_* environment variables."""
    from gateway.cli import serving
    from gateway.db.session import check_migrated

    settings = Settings.load()
    budget.check(settings, processes=workers)
    try:
        asyncio.run(
            check_migrated(settings.database_url, pgbouncer=settings.database_pgbouncer)
        )
    except DatabaseNotReady as exc:
        if exc.reachable:
            raise
        # Down for now: serve anyway, /readyz answers 503 until it is back.
        typer.echo(exc.message, err=True)
    serving.run(host, port, workers, settings)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Run the migrations up to the newest."""
    from gateway.db.session import upgrade

    settings = Settings.load()
    upgrade(settings.database_url, lock_timeout_ms=settings.migration_lock_timeout_ms)
    console.print("[green]Database is up to date.[/green]")


@app.command()
def schema(
    federation: bool = typer.Option(
        False, "--federation", help="The subgraph SDL a supergraph composes."
    ),
) -> None:
    """Print the GraphQL schema (SDL)."""
    from gateway.schema import build_schema, plain_sdl

    typer.echo(build_schema().as_str() if federation else plain_sdl())


@app.command()
def demo(
    port: int = typer.Option(8000, help="Port for the gateway."),
    customers: int = typer.Option(500, min=1, max=100_000, help="Customers to seed."),
    seed: int = typer.Option(42, help="Seed of the demo world."),
) -> None:
    """Seed a local SQLite demo database and serve the gateway on it."""
    from gateway.auth.keys import new_secret
    from gateway.db.session import upgrade
    from gateway.demo.command import run_demo

    database = Path.cwd() / "customer-graph-demo.db"
    os.environ.setdefault("CG_DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    settings = Settings.load()
    if settings.is_sqlite and settings.database_url.endswith(str(database)):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
    upgrade(settings.database_url)
    api_key = (
        settings.demo_api_key.get_secret_value()
        if settings.demo_api_key
        else new_secret()
    )
    settings = settings.model_copy(
        update={
            "demo_api_key": SecretStr(api_key),
            "ingest_write_key": settings.ingest_write_key
            or SecretStr(new_secret() if settings.is_production else "wk_demo"),
        }
    )
    _write_settings_file(settings)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Seeding demo customers", total=customers)
        asyncio.run(
            run_demo(
                settings,
                port=port,
                size=customers,
                world_seed=seed,
                on_seeded=lambda n: progress.advance(task, n),
                console=console,
            )
        )


@app.command()
def sync(
    source: str = typer.Argument(..., help="shopify, zendesk or posthog."),
    since: str = typer.Option("60d", help="Changed since: Nd, Nh or an ISO date."),
    full: bool = typer.Option(
        False, "--full", help="Ignore where the last run stopped."
    ),
) -> None:
    """Backfill identity links (and new store customers) from an upstream."""
    from gateway.cli.sync import run_sync

    raise typer.Exit(
        run_sync(Settings.load(), source, since, full=full, console=console)
    )


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def bench(ctx: typer.Context) -> None:
    """Benchmark loaders and cache (options: customer-graph bench --help)."""
    try:
        from bench.__main__ import main
    except ImportError as exc:  # an installed wheel ships no bench/
        console.print("[red]The benchmark runs from a source checkout.[/red]")
        raise typer.Exit(2) from exc
    raise typer.Exit(main(ctx.args, prog="customer-graph bench"))


def _write_settings_file(settings: Settings) -> None:
    """The demo's database and keys, for the commands run beside it (owner
    read/write only: it holds the admin key)."""
    values = {
        "CG_DATABASE_URL": settings.database_url,
        "CG_DEMO_API_KEY": _secret(settings.demo_api_key),
        "CG_INGEST_WRITE_KEY": _secret(settings.ingest_write_key),
    }
    path = Path.cwd() / SETTINGS_FILE
    path.touch(mode=0o600)
    path.write_text(
        "# Written by `customer-graph demo`; read by every command run here.\n"
        + "".join(f"{name}={value}\n" for name, value in values.items())
    )


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value else ""


if __name__ == "__main__":
    main()
