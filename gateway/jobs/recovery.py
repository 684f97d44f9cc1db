"""Taking up the jobs of a worker that died (killed, its host lost).

A running job is ``doing`` in procrastinate's table, held by its worker's id;
each worker beats every few seconds. Once a minute (a periodic task: one
replica does it per tick) the jobs of workers silent for longer than
``CG_JOBS_STALLED_SECONDS`` are put back to ``todo``, counting the attempt,
and run again by a live worker: procrastinate's own recipe for stalled jobs.
What they work on must therefore be safe to run twice (the automation runs
record each action's outcome in the action's own transaction).
"""

from __future__ import annotations

import logging

from procrastinate import Blueprint, JobContext

from gateway.settings import Settings

log = logging.getLogger("gateway.jobs")
NAMESPACE = "jobs"


async def recover_stalled(context: JobContext, timestamp: int) -> None:
    services = context.additional_context["services"]
    stalled_after = services.settings.jobs_stalled_seconds
    manager = context.app.job_manager
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after):
        log.warning("job %s (%s) stalled: retried", job.id, job.task_name)
        await manager.retry_job(job)


def blueprint(settings: Settings) -> Blueprint:
    tasks = Blueprint()
    task = tasks.task(name="recover_stalled", pass_context=True)(recover_stalled)
    tasks.periodic(cron="* * * * *", periodic_id="stalled")(task)
    return tasks
