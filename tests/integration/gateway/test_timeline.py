"""``Customer.timeline``: every source merged newest first, keyset pages that
stay exact while events arrive, filters, constant cost per page, a failing
source reported beside the data, and tasks."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from strawberry.relay import to_base64

from gateway.db import models
from tests.integration.gateway.conftest import Gateway, open_gateway

FIELDS = """unavailableSources
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  edges { cursor node { __typename id occurredAt source kind summary actor
    ... on OrderPlaced { order { name } }
    ... on TicketOpened { ticket { subject } }
    ... on TaskCreated { task { title status } }
    ... on NoteAdded { body } } }"""
TIMELINE = f"""query($id: ID!, $first: Int, $after: String, $last: Int, $before: String,
  $kinds: [TimelineKind!], $sources: [TimelineSource!], $since: DateTime,
  $until: DateTime) {{ customer(id: $id) {{ timeline(first: $first, after: $after,
  last: $last, before: $before, kinds: $kinds, sources: $sources, since: $since,
  until: $until) {{ {FIELDS} }} }} }}"""
UPSTREAMS = {"SHOPIFY", "ZENDESK", "POSTHOG"}
LEAN = """query($id: ID!, $after: String) { customer(id: $id) {
  timeline(first: 4, after: $after) { pageInfo { hasNextPage endCursor }
  edges { node { id kind summary } } } } }"""
"""Only the interface's fields: what a page costs, not what its items link to."""


async def page(gw: Gateway, customer: str, **variables: Any) -> dict[str, Any]:
    body = await gw.gql(TIMELINE, {"id": customer, **variables})
    assert "errors" not in body, body["errors"]
    connection: dict[str, Any] = body["data"]["customer"]["timeline"]
    return connection


async def walk(gw: Gateway, customer: str, size: int, **variables: Any) -> list[dict]:
    nodes: list[dict] = []
    after = None
    while True:
        found = await page(gw, customer, first=size, after=after, **variables)
        nodes += [e["node"] for e in found["edges"]]
        if not found["pageInfo"]["hasNextPage"]:
            return nodes
        after = found["pageInfo"]["endCursor"]


async def add_history(gw: Gateway, customer: str) -> None:
    """CRM changes through the mutations and two ingest events in the table."""
    body = await gw.gql(
        """mutation($c: ID!) {
          addNote(customerId: $c, body: "Called about the laptop") { id }
          tagCustomer(customerId: $c, tags: ["vip"]) { id }
          setConsent(customerId: $c, channel: SMS, state: GRANTED) { state }
          createTask(customerId: $c, title: "Call back tomorrow") { id }
        }""",
        {"c": customer},
    )
    assert "errors" not in body, body
    now = datetime.now(UTC)
    async with gw.services.sessions() as session, session.begin():
        for n, (kind, name) in enumerate((("page", "Returns"), ("track", "Signup"))):
            session.add(
                models.TrackedEvent(
                    message_id=f"m-{customer}-{n}",
                    customer_id=int(_pk(customer)),
                    type=kind,
                    name=name,
                    properties={"path": "/returns"} if kind == "page" else {},
                    occurred_at=now - timedelta(hours=1, minutes=n),
                )
            )


def _pk(customer: str) -> str:
    return base64.b64decode(customer).decode().split(":")[1]


@pytest.fixture
async def rich(gateway: Gateway) -> str:
    """A customer known to all three upstreams, with local history added."""
    for number in range(1, 30):
        customer = to_base64("Customer", number)
        nodes = await walk(gateway, customer, 100, sources=sorted(UPSTREAMS))
        if {n["source"] for n in nodes} == UPSTREAMS:
            await add_history(gateway, customer)
            return customer
    raise AssertionError("no customer of the world is in all three upstreams")


async def test_timeline_merges_every_source_newest_first(gateway: Gateway, rich: str):
    nodes = await walk(gateway, rich, 100)
    assert {n["source"] for n in nodes} == UPSTREAMS | {"CRM", "INGEST"}
    times = [datetime.fromisoformat(n["occurredAt"]) for n in nodes]
    assert times == sorted(times, reverse=True)
    assert len({n["id"] for n in nodes}) == len(nodes)
    kinds = {n["kind"] for n in nodes}
    assert {"ORDER_PLACED", "TICKET_OPENED", "NOTE_ADDED", "TASK_CREATED"} <= kinds
    assert {"TAG_ADDED", "CONSENT_CHANGED", "PAGE_VIEWED", "CUSTOM_EVENT"} <= kinds
    order = next(n for n in nodes if n["__typename"] == "OrderPlaced")
    assert order["order"]["name"] in order["summary"]
    task = next(n for n in nodes if n["__typename"] == "TaskCreated")
    assert task["task"] == {"title": "Call back tomorrow", "status": "OPEN"}


async def test_walking_pages_while_events_arrive_yields_each_event_once(
    gateway: Gateway, rich: str
):
    before = [n["id"] for n in await walk(gateway, rich, 100)]
    walked: list[str] = []
    after = None
    while True:
        found = await page(gateway, rich, first=7, after=after)
        walked += [e["node"]["id"] for e in found["edges"]]
        await gateway.gql(
            'mutation($c: ID!) { addNote(customerId: $c, body: "meanwhile") { id } }',
            {"c": rich},
        )
        if not found["pageInfo"]["hasNextPage"]:
            break
        after = found["pageInfo"]["endCursor"]
    assert walked == before
    newest = await page(gateway, rich, first=3)
    assert [e["node"]["body"] for e in newest["edges"]] == ["meanwhile"] * 3


async def test_backward_pages_hold_the_same_events(gateway: Gateway, rich: str):
    forward = [n["id"] for n in await walk(gateway, rich, 100)]
    backward: list[str] = []
    before = None
    while True:
        found = await page(gateway, rich, last=9, before=before)
        backward = [e["node"]["id"] for e in found["edges"]] + backward
        if not found["pageInfo"]["hasPreviousPage"]:
            break
        before = found["pageInfo"]["startCursor"]
    assert backward == forward


async def test_filters_by_kind_source_and_time(gateway: Gateway, rich: str):
    everything = await walk(gateway, rich, 100)
    kinds = await walk(gateway, rich, 5, kinds=["ORDER_PLACED", "NOTE_ADDED"])
    assert kinds == [
        n for n in everything if n["kind"] in ("ORDER_PLACED", "NOTE_ADDED")
    ]
    local = await walk(gateway, rich, 4, sources=["CRM", "INGEST"])
    assert local == [n for n in everything if n["source"] in ("CRM", "INGEST")]
    middle = everything[len(everything) // 3]["occurredAt"]
    oldest = everything[-len(everything) // 3]["occurredAt"]
    window = await walk(gateway, rich, 6, since=oldest, until=middle)
    assert window == [n for n in everything if oldest <= n["occurredAt"] < middle]
    assert window


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($id: ID!) { customer(id: $id) { timeline(kinds: [NOPE]) { "
         "unavailableSources } } }", {}),
        ("query($id: ID!, $k: [TimelineKind!]) { customer(id: $id) { "
         "timeline(kinds: $k) { unavailableSources } } }", {"k": ["NOPE"]}),
        ("query($id: ID!) { customer(id: $id) { timeline(after: \"bm9wZQ\") { "
         "unavailableSources } } }", {}),
    ],
)  # fmt: skip
async def test_unknown_kind_or_bad_cursor_is_bad_user_input(
    gateway: Gateway, query: str, variables: dict
):
    body = await gateway.gql(query, {"id": to_base64("Customer", 1), **variables})
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


async def test_a_deep_page_costs_what_the_first_page_costs(gateway: Gateway):
    """Cache off, so every page really asks the upstreams; the first read links
    the customer upstream once, so it is left out."""
    settings = gateway.services.settings.model_copy(update={"cache_enabled": False})
    sims = gateway.simulators
    statements: list[str] = []

    def count(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "audit_log" not in statement:  # the audit trail is written once a second
            statements.append(statement)

    async with open_gateway(settings, sims, gateway.world) as cold:
        event.listen(cold.services.engine.sync_engine, "before_cursor_execute", count)
        customer = to_base64("Customer", 3)
        await add_history(cold, customer)
        await page(cold, customer, first=5)
        costs = []
        after = None
        for _ in range(6):
            sims.reset_counts()
            statements.clear()
            body = await cold.gql(LEAN, {"id": customer, "after": after})
            found = body["data"]["customer"]["timeline"]
            costs.append((sims.total_requests(), len(statements)))
            after = found["pageInfo"]["endCursor"]
        assert found["pageInfo"]["hasNextPage"], costs
    assert all(cost == costs[0] for cost in costs), costs
    assert sum(costs[0][0].values()) > 0
    assert costs[0][1] > 0


async def test_a_failing_source_is_reported_and_the_rest_renders(gateway: Gateway):
    customer = to_base64("Customer", 3)
    await add_history(gateway, customer)
    gateway.simulators.zendesk.fail_next(100, status=503)
    body = await gateway.gql(TIMELINE, {"id": customer, "first": 50})
    connection = body["data"]["customer"]["timeline"]
    assert connection["unavailableSources"] == ["ZENDESK"]
    assert {e["node"]["source"] for e in connection["edges"]} >= {"CRM", "INGEST"}
    assert "ZENDESK" not in {e["node"]["source"] for e in connection["edges"]}
    [error] = body["errors"]
    assert error["extensions"]["source"] == "zendesk"
    assert error["extensions"]["code"].startswith("UPSTREAM_")
    assert error["path"] == ["customer", "timeline"]


async def test_tasks_are_created_completed_once_and_listed(gateway: Gateway):
    customer = to_base64("Customer", 2)
    created = await gateway.gql(
        'mutation($c: ID!) { createTask(customerId: $c, title: "Send invoice", '
        'dueAt: "2030-01-01T09:00:00Z", assignee: "maya") { id status } }',
        {"c": customer},
    )
    task = created["data"]["createTask"]
    complete = "mutation($t: ID!) { completeTask(id: $t) { status completedAt } }"
    done = await gateway.gql(complete, {"t": task["id"]})
    assert done["data"]["completeTask"]["status"] == "DONE"
    again = await gateway.gql(complete, {"t": task["id"]})
    assert again["errors"][0]["extensions"]["code"] == "CONFLICT"
    listed = await gateway.gql(
        "query($c: ID!) { customer(id: $c) { tasks { edges { node { id title "
        "status assignee } } } } }",
        {"c": customer},
    )
    [edge] = listed["data"]["customer"]["tasks"]["edges"]
    assert edge["node"] == {
        "id": task["id"], "title": "Send invoice", "status": "DONE", "assignee": "maya"
    }  # fmt: skip
    crm = await walk(gateway, customer, 10, kinds=["TASK_CREATED", "TASK_COMPLETED"])
    assert [n["kind"] for n in crm] == ["TASK_COMPLETED", "TASK_CREATED"]
    assert crm[0]["actor"] == crm[1]["actor"] != "api"
