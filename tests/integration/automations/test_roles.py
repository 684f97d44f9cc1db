"""Who may manage automations and read their runs, role by role: admin and
marketing; a day-precise birthday trigger only for a role that sees birth
dates (admin), its runs listed only to such a role; the month-granular one
for marketing too. Refusals are 403 FORBIDDEN before anything runs."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest.mock import ANY

import pytest
from strawberry.relay import to_base64

from gateway.auth.keys import create_key
from gateway.auth.policy import GRANTABLE_ROLES, Role
from gateway.automations.evaluate import evaluate_all
from gateway.automations.tables import Automation
from gateway.runtime.services import Services
from tests.integration.automations.helpers import Api, count, create, customer
from tests.integration.automations.test_triggers import born

MANAGERS = {Role.ADMIN, Role.MARKETING}
ROLES = sorted(GRANTABLE_ROLES)


async def key_of(env: Services, role: Role) -> str:
    secret, _ = await create_key(env.sessions, f"automations-{role}", role)
    return secret


@pytest.mark.parametrize("role", ROLES, ids=str)
async def test_only_admin_and_marketing_manage_automations(
    env: Services, api: Api, role: Role
) -> None:
    key = await key_of(env, role)
    made = await create(api, f"by {role}", {"orderPlaced": True}, key=key)
    listed = await api("{ automations { name } }", key=key)
    runs = await api("{ automationRuns { edges { cursor } } }", key=key)
    if role in MANAGERS:
        assert "errors" not in made, made
        assert listed["data"] == {"automations": [{"name": f"by {role}"}]}
        assert runs["data"] == {"automationRuns": {"edges": []}}
        return
    for answer in (made, listed, runs):
        assert (answer["status"], answer["errors"][0]["extensions"]["code"]) == (
            403,
            "FORBIDDEN",
        ), answer
        assert not answer.get("data")
    assert await count(env, Automation) == 0


BIRTHDAYS = {
    "daysAhead": ({"daysAhead": 7}, {Role.ADMIN}),
    "monthAhead": ({"monthAhead": 1}, MANAGERS),
    "inBirthdayMonth": ({"inBirthdayMonth": True}, MANAGERS),
}


@pytest.mark.parametrize("kind", list(BIRTHDAYS))
@pytest.mark.parametrize("role", sorted(MANAGERS), ids=str)
async def test_a_birthday_trigger_needs_a_role_that_sees_its_precision(
    env: Services, api: Api, role: Role, kind: str
) -> None:
    spec, allowed = BIRTHDAYS[kind]
    answer = await create(
        api, f"{kind} {role}", {"birthday": spec}, key=await key_of(env, role)
    )
    if role in allowed:
        assert "errors" not in answer, answer
        return
    error = answer["errors"][0]
    assert (answer["status"], error["extensions"]["code"]) == (403, "FORBIDDEN")
    assert error["extensions"]["argument"] == f"BirthdayTrigger.{kind}"
    assert await count(env, Automation) == 0


async def test_the_runs_of_a_day_precise_birthday_are_not_listed_to_marketing(
    env: Services, api: Api
) -> None:
    who = await customer(env, "bday@example.com", birth=born(2))
    made = await create(api, "Admin's birthdays", {"birthday": {"daysAhead": 7}})
    automation = made["data"]["createAutomation"]["id"]
    await evaluate_all(env.sessions, env.jobs, datetime.now(UTC))
    query = "query($a: ID) { automationRuns(automationId: $a) { edges { cursor } } }"
    admin = await api(query, {"a": automation})
    assert len(admin["data"]["automationRuns"]["edges"]) == 1
    marketing = await key_of(env, Role.MARKETING)
    refused = await api(query, {"a": automation}, key=marketing)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert refused["errors"][0]["extensions"]["argument"] == "BirthdayTrigger.daysAhead"
    unfiltered = await api("{ automationRuns { edges { cursor } } }", key=marketing)
    assert unfiltered["data"] == {"automationRuns": {"edges": []}}
    for change in (
        "updateAutomation(id: $i, trigger: {birthday: {daysAhead: 3}}) { name }",
        # into one marketing could use: the runs it opened would be listed
        "updateAutomation(id: $i, trigger: {birthday: {monthAhead: 1}}) { name }",
        "updateAutomation(id: $i, clearConditions: true) { name }",
        "pauseAutomation(id: $i) { name }",
        "resumeAutomation(id: $i) { name }",
        "deleteAutomation(id: $i)",
    ):
        changed = await api(
            f"mutation($i: ID!) {{ {change} }}", {"i": automation}, key=marketing
        )
        assert changed["errors"][0]["extensions"]["code"] == "FORBIDDEN", change
    dry = await api(
        "query($i: ID!, $c: ID!) { dryRunAutomation(automationId: $i,"
        " customerId: $c) { wouldRun } }",
        {"i": automation, "c": to_base64("Customer", who)},
        key=marketing,
    )
    assert dry["errors"][0]["extensions"]["code"] == "FORBIDDEN", dry
    listed = await api("{ automations { name status trigger } }")
    assert listed["data"]["automations"] == [
        {"name": "Admin's birthdays", "status": "ACTIVE", "trigger": ANY}
    ]
    assert "daysAhead" in str(listed["data"]["automations"][0]["trigger"])


async def test_a_segment_trigger_compares_what_its_segment_does(
    env: Services, api: Api
) -> None:
    """A segment whose members marketing may not read (its filter compares
    birth dates) is no trigger, and no Klaviyo list, for marketing: the
    runs, a dry run or the list would tell who matches."""
    who = await customer(env, "soon@example.com", birth=born(3))
    saved = await api(
        'mutation { createSegment(name: "Birthday this week",'
        " filter: {birthday: {withinDays: 7}}) { name } }"
    )
    assert "errors" not in saved, saved
    marketing = await key_of(env, Role.MARKETING)
    trigger = {"segmentEntered": {"segment": "Birthday this week"}}
    refused = await create(api, "oracle", trigger, key=marketing)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", refused
    assert refused["errors"][0]["extensions"]["argument"] == "BirthdayRule.withinDays"
    dry = await api(
        "query($d: AutomationDefinition!, $c: ID!) {"
        " dryRunAutomation(definition: $d, customerId: $c) { triggerSelects } }",
        {
            "d": {"trigger": trigger, "actions": [{"tag": {"tags": ["x"]}}]},
            "c": to_base64("Customer", who),
        },
        key=marketing,
    )
    assert dry["errors"][0]["extensions"]["code"] == "FORBIDDEN", dry
    made = await create(api, "admin's", trigger)  # admin sees birth dates
    assert "errors" not in made, made
    runs = await api("{ automationRuns { edges { cursor } } }", key=marketing)
    assert runs["data"] == {"automationRuns": {"edges": []}}
    connected = await api(
        'mutation { connectSegmentToList(segment: "Birthday this week",'
        ' listId: "L1") { listId } }',
        key=marketing,
    )
    assert connected["errors"][0]["extensions"]["code"] in (
        "FORBIDDEN",
        "NOT_CONFIGURED",
    )
