"""The automations' jobs, as a procrastinate blueprint (namespace
``automations``): ``execute_run`` (one run) and ``evaluate`` (every periodic
trigger, every ``EVALUATE_CRON`` tick, deferred once per tick across every
worker). Task bodies find the services in
``context.additional_context["services"]`` (``gateway.jobs.worker``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from procrastinate import Blueprint, JobContext, RetryStrategy
from procrastinate.jobs import Job
from procrastinate.retry import RetryDecision

from gateway.automations.evaluate import evaluate_all
from gateway.automations.execute import RunDead, execute_run
from gateway.automations.runs import NAMESPACE
from gateway.settings import Settings

EVALUATE_CRON = "*/15 * * * *"
"""Periodic triggers are evaluated every quarter hour: a day's birthdays on
the first tick of the day, an abandoned checkout within 15 minutes of its
``hours``; a tick missed (no worker up) is made good by the next, since what
a trigger selects is "due now", not "due at this tick"."""

__all__ = ["NAMESPACE", "blueprint"]


class RunRetries(RetryStrategy):
    """Exponential backoff, except for a run already dead (``RunDead``: its
    error would come again)."""

    def get_retry_decision(
        self, *, exception: BaseException, job: Job
    ) -> RetryDecision | None:
        if isinstance(exception, RunDead):
            return None
        return super().get_retry_decision(exception=exception, job=job)


async def run(context: JobContext, run_id: int) -> None:
    services = context.additional_context["services"]
    attempt = context.job.attempts + 1
    await execute_run(
        services, run_id, last_attempt=attempt >= services.settings.jobs_max_attempts
    )


async def evaluate(context: JobContext, timestamp: int) -> None:
    services = context.additional_context["services"]
    now = datetime.fromtimestamp(timestamp, UTC)
    await evaluate_all(services.sessions, services.jobs, now)


def blueprint(settings: Settings) -> Blueprint:
    tasks = Blueprint()
    retries = settings.jobs_max_attempts - 1
    tasks.task(
        name="execute_run",
        pass_context=True,
        retry=RunRetries(
            max_attempts=retries, exponential_wait=settings.jobs_retry_seconds
        )
        if retries
        else False,
    )(run)
    evaluating = tasks.task(name="evaluate", pass_context=True)(evaluate)
    tasks.periodic(cron=EVALUATE_CRON, periodic_id="triggers")(evaluating)
    return tasks
