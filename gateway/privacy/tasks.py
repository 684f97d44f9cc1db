"""The privacy requests' jobs, as a procrastinate blueprint (namespace
``privacy``): ``erase_local`` (our tables), ``erase_upstream`` (one upstream
of one request) and ``export``. Each is retried until it succeeds, with an
exponential backoff from ``CG_JOBS_RETRY_SECONDS`` up to an hour
(``UntilDone``): an upstream down for a day is asked again every hour, and
its source shows ``failed`` with its attempts meanwhile. An export is
retried ``CG_JOBS_MAX_ATTEMPTS`` times; its document then says which source
failed.
"""

from __future__ import annotations

from typing import cast

from procrastinate import BaseRetryStrategy, Blueprint, JobContext, RetryStrategy
from procrastinate.jobs import Job
from procrastinate.retry import RetryDecision

from gateway.privacy.erasure import erase_customer_locally
from gateway.privacy.export import build_export
from gateway.privacy.requests import NAMESPACE
from gateway.privacy.upstreams import erase_upstream
from gateway.runtime.services import Services
from gateway.settings import Settings

__all__ = ["NAMESPACE", "blueprint"]

MAX_WAIT = 3600


class UntilDone(BaseRetryStrategy):
    """Every failure retried: ``base``, twice that, … at most ``MAX_WAIT``
    seconds apart (``base`` 0: at once, as the tests run)."""

    def __init__(self, base: int) -> None:
        self.base = base

    def get_retry_decision(
        self, *, exception: BaseException, job: Job
    ) -> RetryDecision | None:
        wait = min(self.base * 2 ** min(job.attempts, 20), MAX_WAIT)
        return RetryDecision(retry_in={"seconds": wait})


def _services(context: JobContext) -> Services:
    return cast(Services, context.additional_context["services"])


async def erase_local(context: JobContext, request_id: int) -> None:
    await erase_customer_locally(_services(context), request_id)


async def erase_one_upstream(context: JobContext, request_id: int, source: str) -> None:
    await erase_upstream(_services(context), request_id, source)


async def export(context: JobContext, request_id: int) -> None:
    await build_export(_services(context), request_id)


def blueprint(settings: Settings) -> Blueprint:
    tasks = Blueprint()
    until_done = UntilDone(settings.jobs_retry_seconds)
    tasks.task(name="erase_local", pass_context=True, retry=until_done)(erase_local)
    tasks.task(name="erase_upstream", pass_context=True, retry=until_done)(
        erase_one_upstream
    )
    retries = settings.jobs_max_attempts - 1
    tasks.task(
        name="export",
        pass_context=True,
        retry=RetryStrategy(
            max_attempts=retries, exponential_wait=settings.jobs_retry_seconds
        )
        if retries
        else False,
    )(export)
    return tasks
