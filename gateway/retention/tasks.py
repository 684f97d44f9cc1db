"""The purge as a periodic job (namespace ``retention``): every hour, so each
run has about an hour's rows to remove, one run at a time (a run still going
at the next tick is not joined by another: ``lock``, ``queueing_lock``).
A tick missed (no worker up) is made good by the next: the purge removes
what is past retention now, not what fell past it during one hour."""

from __future__ import annotations

from procrastinate import Blueprint, JobContext

from gateway.retention.purge import purge
from gateway.settings import Settings

NAMESPACE = "retention"
PURGE_CRON = "17 * * * *"
"""Hourly, off the hour that other schedules favour."""


async def purge_expired(context: JobContext, timestamp: int) -> None:
    services = context.additional_context["services"]
    await purge(services.sessions, services.settings)


def blueprint(settings: Settings) -> Blueprint:
    tasks = Blueprint()
    task = tasks.task(
        name="purge",
        pass_context=True,
        lock="retention_purge",
        queueing_lock="retention_purge",
    )(purge_expired)
    tasks.periodic(cron=PURGE_CRON, periodic_id="purge")(task)
    return tasks
