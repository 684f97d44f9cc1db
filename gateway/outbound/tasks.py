"""The job engine's side of outbound webhooks: a procrastinate ``Blueprint``
the engine adds to its app under the ``outbound`` namespace
(``app.add_tasks_from(blueprint, namespace="outbound")``).

``outbound:send_lane`` sends the first attempts of one endpoint lane: it
claims up to ``BATCH`` pending deliveries of the lane, sends them one after
the other (a lane is one request at a time to its endpoint), stops taking
new ones after ``LANE_SECONDS`` (a worker's shutdown waits for it) and
records them all in one transaction, which also queues the lane's next job
when the lane may have more. The engine's cost — fetching and finishing a
job — and the claim are paid once per batch, not per delivery.

``outbound:deliver`` makes a retry: one attempt of one delivery, due at its
backoff, under a lock of the delivery's own. A failed attempt, whichever
task made it, queues the next one as a new ``deliver`` job in the
transaction that records it (``attempts.record``). An error around an
attempt (the database away) is retried by the engine every 30 s, 20 times;
the job then takes up the deliveries it held.

Task bodies get the gateway's services from
``context.additional_context["services"]``, as every task of the engine.
A blueprint binds its tasks to the one app it is added to:
``build_blueprint`` makes a new one for each other app (tests, benchmarks).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import cast

from procrastinate import Blueprint, JobContext, RetryStrategy

from gateway.outbound.attempts import Claimed, claim_lane, claim_one, record
from gateway.outbound.publish import QUEUE, lane_job
from gateway.outbound.sending import Answer, send
from gateway.outbound.tables import Outcome
from gateway.runtime.services import Services
from gateway.sealing import Unreadable

log = logging.getLogger("gateway.outbound")

BATCH = 20
"""Deliveries a ``send_lane`` job claims at most."""
LANE_SECONDS = 10.0
"""A ``send_lane`` job starts no attempt after this long; the rest of its
batch goes back to the lane, for the lane's next job."""
ENGINE_RETRIES = 20
"""Retries of a job that failed around its attempts (the database away)."""
ENGINE_RETRY_SECONDS = 30


async def send_lane(
    services: Services, endpoint_id: int, lane: int, lanes: int, job_id: int
) -> int:
    """Send a batch of the lane's pending deliveries; how many were sent."""
    claimed = await claim_lane(
        services.sessions, endpoint_id, lane, lanes, job_id, BATCH
    )
    if not claimed:
        return 0
    started = time.monotonic()
    sent: list[tuple[Claimed, Answer]] = []
    gone = False
    for delivery in claimed:
        if time.monotonic() - started > LANE_SECONDS:
            break
        answer = await attempt(services, delivery, disabled=gone)
        gone = gone or answer.outcome is Outcome.GONE
        sent.append((delivery, answer))
    unsent = claimed[len(sent) :]
    more = len(claimed) == BATCH or bool(unsent)
    then = [lane_job(endpoint_id, lane, lanes)] if more else []
    await record(services, sent, unsent, then)
    for delivery, answer in sent:
        _log(delivery, answer)
    return len(sent)


async def deliver(services: Services, delivery_id: int, job_id: int) -> None:
    """One attempt of ``delivery_id`` by job ``job_id``."""
    claimed = await claim_one(services.sessions, delivery_id, job_id)
    if claimed is None:
        return
    answer = await attempt(services, claimed, disabled=False)
    await record(services, [(claimed, answer)])
    _log(claimed, answer)


async def attempt(services: Services, claimed: Claimed, disabled: bool) -> Answer:
    """The delivery sent, or not for a disabled endpoint (``disabled``: it
    was disabled since the claim, by a 410 of the same batch)."""
    if disabled or not claimed.enabled:
        return Answer(Outcome.DISABLED, None, 0, "EndpointDisabled")
    try:
        secrets = [services.sealer.unseal(s) for s in claimed.attempt.secrets]
    except Unreadable:  # retried: the operator may add the key it was sealed by
        log.error(
            "outbound endpoint %d: its signing secret opens with no key of"
            " CG_SECRET_KEY / CG_PREVIOUS_SECRET_KEYS",
            claimed.endpoint_id,
        )
        return Answer(Outcome.FAILED, None, 0, "SecretUnreadable")
    assert services.outbound_http is not None  # opened with the services
    return await send(
        services.outbound_http,
        replace(claimed.attempt, secrets=secrets),
        services.settings.outbound_allow_private_targets,
    )


def _log(claimed: Claimed, answer: Answer) -> None:
    level = logging.DEBUG if answer.outcome is Outcome.DELIVERED else logging.INFO
    log.log(
        level,
        "outbound delivery %d to endpoint %d: %s, status %s, %s, %d ms",
        claimed.delivery_id,
        claimed.endpoint_id,
        answer.outcome.value,
        answer.status_code,
        answer.error_class,
        answer.duration_ms,
    )


def build_blueprint() -> Blueprint:
    blueprint = Blueprint()
    retry = RetryStrategy(max_attempts=ENGINE_RETRIES, wait=ENGINE_RETRY_SECONDS)

    @blueprint.task(name="send_lane", pass_context=True, queue=QUEUE, retry=retry)
    async def send_lane_task(
        context: JobContext, endpoint_id: int, lane: int, lanes: int
    ) -> None:
        assert context.job.id is not None
        await send_lane(_services(context), endpoint_id, lane, lanes, context.job.id)

    @blueprint.task(name="deliver", pass_context=True, queue=QUEUE, retry=retry)
    async def deliver_task(context: JobContext, delivery_id: int) -> None:
        assert context.job.id is not None
        await deliver(_services(context), delivery_id, context.job.id)

    return blueprint


def _services(context: JobContext) -> Services:
    return cast(Services, context.additional_context["services"])


blueprint = build_blueprint()
"""The process's blueprint, for the job engine's app."""
