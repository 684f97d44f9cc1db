"""What a run does and how it ends: each implemented action, its outcome and
timeline entry; a failing action retried, then dead-lettered, then revived by
``retryRun``; a dry run that writes nothing; bad input refused with its field
and nothing created."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update
from strawberry.relay import to_base64

from gateway.app import create_app
from gateway.automations.actions import EXECUTORS, Done, Step
from gateway.automations.evaluate import evaluate_all
from gateway.automations.tables import Automation, AutomationRun
from gateway.changes.bus import CustomerChange
from gateway.db import models
from gateway.jobs.engine import is_durable
from gateway.relay.ids import decode_global_id
from gateway.runtime.services import Services
from tests.integration.automations.conftest import Drain
from tests.integration.automations.helpers import (
    TASK,
    Api,
    count,
    create,
    created,
    customer,
    runs,
    tasks_of,
)
from tests.integration.automations.test_triggers import born, traits

RUNS = """query($a: ID) { automationRuns(automationId: $a) { edges { node {
  id status attempts error occasion outcomes { kind ok output } } } } }"""
TIMELINE = """query($c: ID!) { customer(id: $c) { timeline(first: 20) { edges { node {
  kind summary ... on AutomationRan { automationName status trigger runId } } } } } }"""


def gid(kind: str, pk: int) -> str:
    return to_base64(kind, pk)


async def test_create_task_tag_and_untag_run_in_order_and_are_announced(
    env: Services, api: Api, work: Drain
) -> None:
    who = await customer(env, "acts@example.com", birth=born(1), tags=("old",))
    await created(
        api,
        "Everything",
        {"birthday": {"daysAhead": 3}},
        actions=[
            {"createTask": {"title": "Send a card", "assignee": "ana", "dueInDays": 1}},
            {"tag": {"tags": ["Birthday"]}},
            {"untag": {"tags": ["old"]}},
        ],
    )
    heard: list[CustomerChange] = []

    async def listen(change: CustomerChange) -> None:
        heard.append(change)

    stop = env.changes.subscribe(listen)
    await evaluate_all(env.sessions, env.jobs, datetime.now(UTC))
    await work()
    stop()
    (run,) = await runs(env)
    assert run.status == "done"
    assert [(o["kind"], o["ok"]) for o in run.outcomes] == [
        ("createTask", True),
        ("tag", True),
        ("untag", True),
    ]
    (task,) = await tasks_of(env, who)
    assert (task.title, task.assignee, run.outcomes[0]["output"]) == (
        "Send a card",
        "ana",
        {"taskId": task.id},
    )
    async with env.sessions() as session:
        tags = await session.scalars(
            select(models.Tag.name).where(models.Tag.customer_id == who)
        )
        assert list(tags) == ["birthday"]
    assert [c.kind for c in heard] == [
        "task_created",
        "tag_added",
        "tag_removed",
        "automation_ran",
    ]


async def test_a_run_is_on_the_customers_timeline(
    env: Services, api: Api, work: Drain
) -> None:
    who = await customer(env, "timeline@example.com")
    await created(api, "Seen on the timeline", {"noOrder": {"days": 30}})
    async with env.sessions() as session, session.begin():
        session.add(traits(who, datetime.now(UTC) - timedelta(days=40)))
    await evaluate_all(env.sessions, env.jobs, datetime.now(UTC))
    await work()
    (run,) = await runs(env)
    answer = await api(TIMELINE, {"c": gid("Customer", who)})
    kinds = [e["node"] for e in answer["data"]["customer"]["timeline"]["edges"]]
    ran = [k for k in kinds if k["kind"] == "AUTOMATION_RAN"]
    assert ran == [
        {
            "kind": "AUTOMATION_RAN",
            "summary": "Automation Seen on the timeline: done",
            "automationName": "Seen on the timeline",
            "status": "done",
            "trigger": "noOrder",
            "runId": gid("AutomationRun", run.id),
        }
    ]


async def test_a_failing_action_is_retried_then_dead(
    env: Services, api: Api, work: Drain
) -> None:
    """Shopify is not configured here: an upstream that may come back, so the
    run is attempted ``jobs_max_attempts`` times before its dead letter."""
    who = await customer(env, "retried@example.com", birth=born(1))
    async with env.sessions() as session, session.begin():
        row = traits(who, datetime.now(UTC))
        row.favourite_category_by_quantity = "Skincare"
        session.add(row)
    await created(
        api,
        "No Shopify",
        {"birthday": {"daysAhead": 3}},
        actions=[{"createDiscountCode": {"percent": 20}}],  # their favourite's
    )
    await evaluate_all(env.sessions, env.jobs, datetime.now(UTC))
    await work()
    (run,) = await runs(env)
    assert (run.status, run.attempts) == ("dead", env.settings.jobs_max_attempts)
    assert run.error == "shopify could not do it (UPSTREAM_UNAVAILABLE)."


async def test_an_action_failing_on_its_input_is_dead_at_once_then_revived_by_retry_run(
    env: Services, api: Api, work: Drain
) -> None:
    """Another attempt would meet the same error: no retries; fixed, the run
    is revived by ``retryRun``."""
    who = await customer(env, "dead@example.com", birth=born(1))
    automation = await created(
        api,
        "No favourite",
        {"birthday": {"daysAhead": 3}},
        # the favourite category's code: this customer has bought nothing
        actions=[{"createDiscountCode": {"percent": 20}}],
    )
    await evaluate_all(env.sessions, env.jobs, datetime.now(UTC))
    await work()
    (run,) = await runs(env)
    assert (run.status, run.attempts) == ("dead", 1)
    assert run.error is not None
    assert "favourite category" in run.error
    if is_durable(env.jobs):
        (job,) = await env.jobs.job_manager.list_jobs_async(
            task="automations:execute_run"
        )
        assert job.status == "failed"
    runs_page = await api(RUNS, {"a": gid("Automation", automation)})
    (edge,) = runs_page["data"]["automationRuns"]["edges"]
    assert edge["node"]["status"] == "DEAD"
    fixed = await api(
        "mutation($i: ID!) { updateAutomation(id: $i, actions: [{createTask:"
        ' {title: "Call"}}]) { name } }',
        {"i": gid("Automation", automation)},
    )
    assert "errors" not in fixed, fixed
    revived = await api(
        "mutation($r: ID!) { retryRun(id: $r) { status } }",
        {"r": edge["node"]["id"]},
    )
    assert revived["data"] == {"retryRun": {"status": "PENDING"}}
    again = await api(
        "mutation($r: ID!) { retryRun(id: $r) { status } }",
        {"r": edge["node"]["id"]},
    )
    assert again["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    await work()
    (run,) = await runs(env)
    assert run.status == "done"
    assert [t.title for t in await tasks_of(env, who)] == ["Call"]


async def test_a_dry_run_answers_and_writes_nothing(env: Services, api: Api) -> None:
    who = await customer(env, "dry@example.com", birth=born(2), tags=("vip",))
    automation = await created(
        api,
        "Dry",
        {"birthday": {"daysAhead": 7}},
        conditions={"tagsAny": ["vip"], "lifetimeValue": {"gte": 100}},
        actions=[
            {"createTask": {"title": "Call", "dueInDays": 3}},
            {"tag": {"tags": ["b"]}},
        ],
    )
    written: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        verb = statement.lstrip().split()[0].upper()
        if verb in ("INSERT", "UPDATE", "DELETE") and "audit_log" not in statement:
            written.append(statement)  # the audit trail notes every request

    event.listen(env.engine.sync_engine, "before_cursor_execute", note)
    try:
        answer = await api(
            """query($c: ID!, $a: ID) { dryRunAutomation(customerId: $c,
            automationId: $a) { wouldRun triggerSelects occasion alreadyRan
            conditions { condition matched } actions { kind payload } } }""",
            {"c": gid("Customer", who), "a": gid("Automation", automation)},
        )
    finally:
        event.remove(env.engine.sync_engine, "before_cursor_execute", note)
    assert "errors" not in answer, answer
    found = answer["data"]["dryRunAutomation"]
    assert (found["wouldRun"], found["triggerSelects"], found["alreadyRan"]) == (
        False,
        True,
        False,
    )
    matched = {c["condition"]: c["matched"] for c in found["conditions"]}
    assert matched == {"tagsAny": True, "lifetimeValue": False}
    assert [a["kind"] for a in found["actions"]] == ["createTask", "tag"]
    assert found["actions"][0]["payload"]["title"] == "Call"
    assert written == []
    assert (await count(env, AutomationRun), await count(env, models.Task)) == (0, 0)


BAD: dict[str, tuple[dict[str, Any], str]] = {
    "two triggers": ({"t": {"orderPlaced": True, "noOrder": {"days": 3}}}, ""),
    "days out of range": ({"t": {"noOrder": {"days": 0}}}, "trigger.noOrder.days"),
    "two birthday fields": (
        {"t": {"birthday": {"daysAhead": 3, "monthAhead": 1}}},
        "trigger.birthday",
    ),
    "unknown segment": (
        {"t": {"segmentEntered": {"segment": "Nobody"}}},
        "trigger.segmentEntered.segment",
    ),
    "unknown product": (
        {"t": {"replenishmentDue": {"daysAhead": 3, "sku": "NOPE"}}},
        "trigger.replenishmentDue.sku",
    ),
    "webhook event not an event type": (
        {"a": [{"webhook": {"event": "Not an event!"}}]},
        "actions[0].webhook.event",
    ),
    "discount over 100": (
        {"a": [{"createDiscountCode": {"percent": 101}}]},
        "actions[0].createDiscountCode.percent",
    ),
    "code passed on before it exists": (
        {"a": [{"addToList": {"listId": "L1", "includeDiscountCode": True}}]},
        "actions[0].addToList.includeDiscountCode",
    ),
    "webhook event outside automation.": (
        {"a": [{"webhook": {"event": "order.placed"}}]},
        "actions[0].webhook.event",
    ),
    "tag longer than a tag": (
        {"a": [{"tag": {"tags": ["x" * 65]}}]},
        "actions[0].tag.tags",
    ),
    "tag with a bidi control": (
        {"a": [{"untag": {"tags": ["vip\u202e"]}}]},
        "actions[0].untag.tags",
    ),
    "task title longer than a task's": (
        {"a": [{"createTask": {"title": "y" * 301}}]},
        "actions[0].createTask.title",
    ),
    "task assignee longer than a task's": (
        {"a": [{"createTask": {"title": "Call", "assignee": "z" * 201}}]},
        "actions[0].createTask.assignee",
    ),
    "not a Klaviyo list id": (
        {"a": [{"addToList": {"listId": "no such list!"}}]},
        "actions[0].addToList.listId",
    ),
    "blank discount category": (
        {"a": [{"createDiscountCode": {"percent": 10, "category": "  "}}]},
        "actions[0].createDiscountCode.category",
    ),
    "span at the end of time": (
        {
            "t": {
                "during": {
                    "from": "9999-12-01T00:00:00Z",
                    "to": "9999-12-31T00:00:00Z",
                }
            }
        },
        "trigger.during.to",
    ),
    "span at the start of time, east of UTC": (
        {
            "t": {
                "during": {
                    "from": "0001-01-01T00:00:00+14:00",
                    "to": "0001-01-02T00:00:00+14:00",
                }
            }
        },
        "trigger.during.to",
    ),
    "no actions": ({"a": []}, "actions"),
    "empty tag list": ({"a": [{"tag": {"tags": []}}]}, "actions[0].tag.tags"),
    "bad condition": ({"c": {"rfmSegmentIn": ["Nope"]}}, "rfmSegmentIn"),
}


@pytest.mark.parametrize("case", list(BAD))
async def test_bad_input_is_refused_with_its_field_and_nothing_is_created(
    env: Services, api: Api, case: str
) -> None:
    given, field = BAD[case]
    answer = await create(
        api,
        f"bad {case}",
        given.get("t", {"orderPlaced": True}),
        actions=given.get("a", [{"tag": {"tags": ["x"]}}]),
        conditions=given.get("c"),
    )
    assert answer.get("data") in (None, {"createAutomation": None}), answer
    error = answer["errors"][0]
    if field:  # a oneOf input with two fields is refused by validation
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert error["extensions"]["field"] == field, error
    assert await count(env, Automation) == 0


@pytest.mark.parametrize(
    "action",
    [
        {"addToList": {"listId": "L1"}},
        {"createDiscountCode": {"percent": 10, "category": "Skincare"}},
    ],
)
async def test_an_action_naming_an_upstream_this_gateway_lacks_is_not_configured(
    env: Services, api: Api, action: dict[str, Any]
) -> None:
    """Klaviyo and Shopify are not configured here: the automation could
    never act, so it is not saved (its runs would all die)."""
    answer = await create(api, "no upstream", {"orderPlaced": True}, actions=[action])
    assert answer["errors"][0]["extensions"]["code"] == "NOT_CONFIGURED", answer
    assert await count(env, Automation) == 0


async def test_a_second_automation_with_a_taken_name_is_a_conflict(
    env: Services, api: Api
) -> None:
    await created(api, "Same", {"orderPlaced": True})
    answer = await create(api, "Same", {"orderPlaced": True})
    assert answer["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert await count(env, Automation) == 1


async def test_automations_are_listed_with_their_runs_counted(
    env: Services, api: Api, work: Drain
) -> None:
    await customer(env, "a@example.com", birth=born(1))
    await customer(env, "b@example.com", birth=born(2))
    await created(api, "Counted", {"birthday": {"daysAhead": 5}})
    await evaluate_all(env.sessions, env.jobs, datetime.now(UTC))
    listed = await api("{ automations { name runCounts { pending done dead } } }")
    assert listed["data"]["automations"] == [
        {"name": "Counted", "runCounts": {"pending": 2, "done": 0, "dead": 0}}
    ]
    await work()
    listed = await api("{ automations { runCounts { pending done } } }")
    assert listed["data"]["automations"][0]["runCounts"] == {"pending": 0, "done": 2}
    deleted = await api(
        "mutation($i: ID!) { deleteAutomation(id: $i) }",
        {"i": (await api("{ automations { id } }"))["data"]["automations"][0]["id"]},
    )
    assert "errors" not in deleted
    assert (await count(env, Automation), await count(env, AutomationRun)) == (0, 0)
    assert decode_global_id(deleted["data"]["deleteAutomation"])[0] == "Automation"


async def test_the_gateways_lifespan_runs_a_worker_that_does_the_runs(
    env: Services, api: Api
) -> None:
    who = await customer(env, "lifespan@example.com", birth=born(1))
    await created(api, "Done by serve", {"birthday": {"daysAhead": 3}})
    app = create_app(services=env, worker=True)
    async with app.router.lifespan_context(app):
        await evaluate_all(env.sessions, env.jobs, datetime.now(UTC))
        for _ in range(200):
            if [r.status for r in await runs(env)] == ["done"]:
                break
            await asyncio.sleep(0.05)
    assert [r.status for r in await runs(env)] == ["done"]
    assert len(await tasks_of(env, who)) == 1


PAUSE = "mutation($i: ID!) { pauseAutomation(id: $i) { status } }"
RESUME = "mutation($i: ID!) { resumeAutomation(id: $i) { status } }"


async def test_a_paused_automations_queued_runs_are_held_until_resumed(
    env: Services, api: Api, work: Drain
) -> None:
    who = await customer(env, "held@example.com", birth=born(1))
    pk = await created(api, "Held", {"birthday": {"daysAhead": 3}})
    await evaluate_all(env.sessions, env.jobs, datetime.now(UTC))
    assert "errors" not in await api(PAUSE, {"i": gid("Automation", pk)})
    await work()
    (run,) = await runs(env)
    assert (run.status, run.attempts, run.outcomes) == ("pending", 0, [])
    assert await tasks_of(env, who) == []
    assert "errors" not in await api(RESUME, {"i": gid("Automation", pk)})
    await work()
    (run,) = await runs(env)
    assert (run.status, run.attempts) == ("done", 1)
    assert len(await tasks_of(env, who)) == 1


async def test_a_pause_stops_a_run_before_its_next_action_and_resume_goes_on(
    env: Services, api: Api, work: Drain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paused while the run's first action runs (the pause commits with it:
    SQLite has one writer): the second waits, the first is not done twice."""
    who = await customer(env, "midway@example.com", birth=born(1))
    pk = await created(
        api,
        "Midway",
        {"birthday": {"daysAhead": 3}},
        actions=[{"tag": {"tags": ["first"]}}, {"createTask": TASK[0]["createTask"]}],
    )
    tag = EXECUTORS["tag"]

    async def tag_then_pause(session: Any, step: Step) -> Done:
        done = await tag(session, step)
        paused = update(Automation).where(Automation.id == pk)
        await session.execute(paused.values(status="paused"))
        return done

    monkeypatch.setitem(EXECUTORS, "tag", tag_then_pause)
    await evaluate_all(env.sessions, env.jobs, datetime.now(UTC))
    await work()
    (run,) = await runs(env)
    assert (run.status, [o["kind"] for o in run.outcomes]) == ("pending", ["tag"])
    assert await tasks_of(env, who) == []
    monkeypatch.setitem(EXECUTORS, "tag", tag)
    assert "errors" not in await api(RESUME, {"i": gid("Automation", pk)})
    await work()
    (run,) = await runs(env)
    assert (run.status, [o["kind"] for o in run.outcomes]) == (
        "done",
        ["tag", "createTask"],
    )
    assert len(await tasks_of(env, who)) == 1
