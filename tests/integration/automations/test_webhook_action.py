"""The ``webhook`` action end to end: a run publishes its event to the
outbound endpoints registered for the type (``gateway.outbound``), a real
receiver gets it signed by the Standard Webhooks spec, and its contact data is
what consent allows: the email of a customer with email consent, null for one
without. The event is written with the action's outcome: a transaction that
fails after publishing leaves no message, and the run's retry publishes it
once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
from strawberry.relay import to_base64

from gateway.automations.evaluate import evaluate_all
from gateway.db import models
from gateway.outbound.tables import OutboundDelivery, OutboundMessage
from gateway.runtime.services import Services
from tests.integration.automations.conftest import Drain
from tests.integration.automations.helpers import Api, count, created, customer, runs
from tests.integration.automations.test_triggers import born
from tests.integration.outbound.conftest import Inbox, endpoint_for, inbox

__all__ = ["inbox"]  # fixture


async def test_a_webhook_action_sends_its_event_signed_with_consented_contacts(
    env: Services, api: Api, work: Drain, inbox: Inbox
) -> None:
    await endpoint_for(env, inbox, "birthdays", ["automation.birthday"])
    await endpoint_for(env, inbox, "orders", ["order.placed"])  # another type
    consented = await customer(env, "yes@example.com", birth=born(2))
    silent = await customer(env, "no@example.com", birth=born(2))
    async with env.sessions() as session, session.begin():
        session.add(
            models.Consent(
                customer_id=consented, channel="email", state="granted", source="test"
            )
        )
    await created(
        api,
        "Birthday hook",
        {"birthday": {"daysAhead": 3}},
        actions=[{"webhook": {"event": "automation.birthday"}}],
    )
    await evaluate_all(env.sessions, env.jobs, datetime.now(UTC))
    await work()
    assert {r.status for r in await runs(env)} == {"done"}
    got = inbox.of("birthdays")
    assert inbox.of("orders") == []
    assert len(got) == 2
    assert all(r.verified for r in got)
    bodies = {
        json.loads(r.body)["data"]["customer"]["id"]: json.loads(r.body) for r in got
    }
    yes = bodies[to_base64("Customer", consented)]
    no = bodies[to_base64("Customer", silent)]
    assert yes["type"] == "automation.birthday"
    assert yes["data"]["customer"]["email"] == "yes@example.com"
    assert no["data"]["customer"]["email"] is None
    assert yes["data"]["automation"] == "Birthday hook"


async def test_a_webhook_action_whose_transaction_fails_publishes_nothing_and_its_retry_once(
    env: Services, api: Api, work: Drain, inbox: Inbox
) -> None:
    await endpoint_for(env, inbox, "once", ["automation.birthday"])
    await customer(env, "once@example.com", birth=born(2))
    await created(
        api,
        "Birthday once",
        {"birthday": {"daysAhead": 3}},
        actions=[{"webhook": {"event": "automation.birthday"}}],
    )

    def fail_once(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # the action's outcome, written after publish in the same transaction
        if statement.startswith("UPDATE automation_runs SET outcomes") and not failed:
            failed.append(statement)
            raise RuntimeError("the outcome's write fails")

    failed: list[str] = []
    event.listen(env.engine.sync_engine, "before_cursor_execute", fail_once)
    try:
        await evaluate_all(env.sessions, env.jobs, datetime.now(UTC))
        await work()
    finally:
        event.remove(env.engine.sync_engine, "before_cursor_execute", fail_once)
    assert failed  # the first attempt's transaction rolled back
    (run,) = await runs(env)
    assert (run.status, run.attempts) == ("done", 2)
    assert await count(env, OutboundMessage) == 1
    assert await count(env, OutboundDelivery) == 1
    (got,) = inbox.of("once")
    assert got.verified
