"""The ``webhook`` action end to end: a run publishes its event to the
outbound endpoints registered for the type (``gateway.outbound``), a real
receiver gets it signed by the Standard Webhooks spec, and its contact data is
what consent allows: the email of a customer with email consent, null for one
without."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from strawberry.relay import to_base64

from gateway.automations.evaluate import evaluate_all
from gateway.db import models
from gateway.runtime.services import Services
from tests.integration.automations.conftest import Drain
from tests.integration.automations.helpers import Api, created, customer, runs
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
