"""Running a worker: inside each ``serve`` process's lifespan
(``CG_JOBS_WORKER``, on by default), or alone (``customer-graph worker``).

A worker is procrastinate's: it fetches due jobs (LISTEN/NOTIFY, polling as a
fallback), runs ``CG_JOBS_CONCURRENCY`` at once, defers the periodic tasks
(one defer per tick across every worker: procrastinate's
``procrastinate_periodic_defers`` is unique per task and tick), retries
failures by each task's strategy, and sends a heartbeat so that another
worker can take up the jobs of one that died (``gateway.jobs.recovery``).
Stopping it (the lifespan's end, SIGTERM for the command) lets the jobs in
flight finish within ``CG_JOBS_SHUTDOWN_SECONDS``.

Every task gets the process's services in
``context.additional_context["services"]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from procrastinate import App

from gateway.errors import describe
from gateway.jobs.engine import BlueprintFactory, listens
from gateway.settings import Settings


class _NoTracebacks(logging.Filter):
    """procrastinate logs a failed job with its traceback; our log lines
    carry an error's kind and place only (``gateway.errors.describe``): its
    message and its frames' values may hold personal data."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.getMessage()} ({describe(record.exc_info[1])})"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


_QUIET = _NoTracebacks()
for _name in ("procrastinate.worker", "procrastinate.jobs"):
    logging.getLogger(_name).addFilter(_QUIET)


def ensure_tasks(
    app: App, settings: Settings, blueprints: Mapping[str, BlueprintFactory]
) -> None:
    """Add the tasks of each namespace ``app`` does not have yet."""
    known = {name.partition(":")[0] for name in app.tasks}
    for namespace, factory in blueprints.items():
        if namespace not in known:
            app.add_tasks_from(factory(settings), namespace=namespace)


def options(settings: Settings, services: object, **extra: Any) -> dict[str, Any]:
    return {
        "concurrency": settings.jobs_concurrency,
        "shutdown_graceful_timeout": settings.jobs_shutdown_seconds,
        "additional_context": {"services": services},
        "install_signal_handlers": False,
        "update_heartbeat_interval": settings.jobs_stalled_seconds / 3,
        "stalled_worker_timeout": settings.jobs_stalled_seconds,
        "listen_notify": listens(settings),
        **extra,
    }


@contextlib.asynccontextmanager
async def running_worker(
    app: App,
    settings: Settings,
    services: object,
    blueprints: Mapping[str, BlueprintFactory],
) -> AsyncIterator[None]:
    """A worker for as long as the context lasts; on exit it stops taking
    jobs and lets those in flight finish."""
    ensure_tasks(app, settings, blueprints)
    task = asyncio.create_task(
        app.run_worker_async(**options(settings, services, name="gateway"))
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def run_until_stopped(
    app: App,
    settings: Settings,
    services: object,
    blueprints: Mapping[str, BlueprintFactory],
) -> None:
    """``customer-graph worker``: run until SIGINT or SIGTERM."""
    ensure_tasks(app, settings, blueprints)
    await app.run_worker_async(
        **options(settings, services, name="worker", install_signal_handlers=True)
    )


async def drain(
    app: App,
    settings: Settings,
    services: object,
    blueprints: Mapping[str, BlueprintFactory],
) -> None:
    """Run every job that is due, then return (``customer-graph worker
    --until-idle``, tests)."""
    ensure_tasks(app, settings, blueprints)
    await asyncio.sleep(0)  # jobs deferred at a commit just now are queued
    await app.run_worker_async(
        **options(settings, services, name="drain", wait=False, listen_notify=False)
    )
