"""The job engine's side of outbound webhooks: a procrastinate ``Blueprint``
the engine adds to its app under the ``outbound`` namespace
(``app.add_tasks_from(blueprint, namespace="outbound")``).

``outbound:deliver`` makes one attempt of one delivery (``deliver``); a
failed attempt that has a next one raises ``RetryLater``, which the task's
retry strategy turns into the engine's retry at the delay ``attempts.record``
chose, under a lock of the delivery's own (the endpoint's lanes hold first
attempts only, so a delivery waiting for its retry never holds back the
lane behind it). ``outbound:requeue_stranded`` runs every minute on one
worker (the engine deduplicates periodic jobs) and defers what a publisher
committed but did not queue (``publish.py``).

Task bodies get the gateway's services from
``context.additional_context["services"]``, as every task of the engine.
A blueprint binds its tasks to the one app it is added to:
``build_blueprint`` makes a new one for each other app (tests, benchmarks).
"""

from __future__ import annotations

import logging
from typing import cast

from procrastinate import Blueprint, JobContext
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy, RetryDecision

from gateway.outbound.attempts import claim, record
from gateway.outbound.publish import QUEUE, requeue_stranded
from gateway.outbound.sending import Answer, send
from gateway.outbound.tables import Outcome
from gateway.runtime.services import Services

log = logging.getLogger("gateway.outbound")

ENGINE_RETRIES = 20
"""Retries of a job that failed around its attempt (the database away)."""
ENGINE_RETRY_SECONDS = 30


class RetryLater(Exception):
    """The attempt failed and the delivery has another one after ``seconds``."""

    def __init__(self, delivery_id: int, seconds: float) -> None:
        super().__init__(
            f"outbound delivery {delivery_id}: next attempt in {seconds:.1f} s"
        )
        self.seconds = seconds
        self.lock = f"outbound:delivery:{delivery_id}"


class DeliveryRetry(BaseRetryStrategy):
    """``RetryLater``'s delay and lock; anything else (not an HTTP failure,
    which ``record`` already counted) again after 30 s, 20 times at most."""

    def get_retry_decision(
        self, *, exception: BaseException, job: Job
    ) -> RetryDecision | None:
        if isinstance(exception, RetryLater):
            return RetryDecision(
                retry_in={"milliseconds": int(exception.seconds * 1000)},
                lock=exception.lock,
            )
        if job.attempts < ENGINE_RETRIES:
            return RetryDecision(retry_in={"seconds": ENGINE_RETRY_SECONDS})
        return None


async def deliver(services: Services, delivery_id: int, job_id: int) -> None:
    """One attempt of ``delivery_id`` by job ``job_id``; ``RetryLater`` when
    it failed and has another one."""
    claimed = await claim(services.sessions, delivery_id, job_id)
    if claimed is None:
        return
    settings = services.settings
    if not claimed.enabled:
        answer = Answer(Outcome.DISABLED, None, 0, "EndpointDisabled")
    else:
        assert services.outbound_http is not None  # opened with the services
        answer = await send(
            services.outbound_http,
            claimed.attempt,
            settings.outbound_allow_private_targets,
        )
    retry_in = await record(services.sessions, claimed, answer, settings)
    level = logging.DEBUG if answer.outcome is Outcome.DELIVERED else logging.INFO
    log.log(
        level,
        "outbound delivery %d to endpoint %d: %s, status %s, %s, %d ms",
        delivery_id,
        claimed.endpoint_id,
        answer.outcome.value,
        answer.status_code,
        answer.error_class,
        answer.duration_ms,
    )
    if retry_in is not None:
        raise RetryLater(delivery_id, retry_in)


def build_blueprint() -> Blueprint:
    blueprint = Blueprint()

    @blueprint.task(
        name="deliver", pass_context=True, queue=QUEUE, retry=DeliveryRetry()
    )
    async def deliver_task(context: JobContext, delivery_id: int) -> None:
        assert context.job.id is not None
        await deliver(_services(context), delivery_id, context.job.id)

    @blueprint.periodic(cron="* * * * *")
    @blueprint.task(name="requeue_stranded", pass_context=True, queue=QUEUE)
    async def requeue_task(context: JobContext, timestamp: int) -> None:
        count = await requeue_stranded(_services(context), context.app)
        if count:
            log.warning("outbound: %d stranded deliveries deferred again", count)

    return blueprint


def _services(context: JobContext) -> Services:
    return cast(Services, context.additional_context["services"])


blueprint = build_blueprint()
"""The process's blueprint, for the job engine's app."""
