"""A merged customer's survivor reads every record linked to it (issue 18):
orders, tickets and web activity of both Shopify customers, Zendesk users and
PostHog persons, each upstream asked once per record, batched; an unmerge
gives each its own again."""

from __future__ import annotations

import pytest
from strawberry import relay

from tests.integration.gateway.conftest import Gateway
from tests.integration.gateway.simulated import customer_id_by_email
from tests.integration.gateway.test_embed import ISSUE, embed_query

pytestmark = pytest.mark.storage_independent

VIEW = """query($id: ID!) { customer(id: $id) {
  orders(first: 100) { totalCount edges { node { name } } }
  tickets(first: 100) { edges { node { subject } } }
  activity(first: 100) { edges { node { occurredAt } } }
  sessionsCount
} }"""
MERGE = """mutation($s: ID!, $m: ID!) {
  mergeCustomers(survivorId: $s, mergedId: $m) { mergeId } }"""
UNMERGE = "mutation($id: ID!) { unmergeCustomer(id: $id) { restored { id } } }"


def gid(pk: int) -> str:
    return str(relay.GlobalID("Customer", str(pk)))


def counts(view: dict) -> tuple[int, int, int, int]:
    customer = view["data"]["customer"]  # a source not linked: null
    orders, tickets, activity = (
        customer[k] or {} for k in ("orders", "tickets", "activity")
    )
    return (
        orders.get("totalCount", 0),
        len(tickets.get("edges", [])),
        len(activity.get("edges", [])),
        customer["sessionsCount"] or 0,
    )


async def _view(gateway: Gateway, pk: int) -> tuple[int, int, int, int]:
    body = await gateway.gql(VIEW, {"id": gid(pk)})
    assert "errors" not in body, body
    assert body["data"]["customer"] is not None, (pk, body)
    return counts(body)


async def test_a_survivor_reads_both_records_of_each_source(gateway: Gateway) -> None:
    alone: dict[int, tuple[int, int, int, int]] = {}
    for person in gateway.world.customers:  # two with orders and tickets
        pk = await customer_id_by_email(gateway.services, person.email)
        seen = await _view(gateway, pk)
        if all(seen[:2]):
            alone[pk] = seen
        if len(alone) == 2:
            break
    first, second = alone
    done = await gateway.gql(MERGE, {"s": gid(first), "m": gid(second)})
    assert "errors" not in done, done
    gateway.simulators.reset_counts()
    together = await _view(gateway, first)
    orders, tickets = (alone[first][i] + alone[second][i] for i in (0, 1))
    assert together[:2] == (orders, tickets)
    assert together[3] == alone[first][3] + alone[second][3]
    assert together[2] == min(100, alone[first][2] + alone[second][2])
    calls = gateway.simulators.total_requests()
    assert calls["zendesk"] <= 2  # both users' tickets in one search (+ show_many)
    undone = await gateway.gql(UNMERGE, {"id": gid(second)})
    assert "errors" not in undone, undone
    assert {pk: await _view(gateway, pk) for pk in (first, second)} == alone


NOTE = 'mutation($c: ID!) { addNote(customerId: $c, body: "after the merge") { id } }'


async def test_an_embed_token_of_the_merged_record_shows_the_persons_timeline(
    gateway: Gateway,
) -> None:
    """Issued before the merge (a help-desk sidebar): after it, the token's
    timeline is the survivor's, whole — not the merged record's leftovers."""
    survivor, merged = gateway.world.customers[3], gateway.world.customers[4]
    s = await customer_id_by_email(gateway.services, survivor.email)
    m = await customer_id_by_email(gateway.services, merged.email)
    token = (await issue_for(gateway, gid(m)))["token"]
    assert "errors" not in await gateway.gql(MERGE, {"s": gid(s), "m": gid(m)})
    assert "errors" not in await gateway.gql(NOTE, {"c": gid(s)})
    answer = await embed_query(gateway.http, token, gid(m))
    body = answer.json()
    assert "errors" not in body, body
    kinds = [e["node"]["kind"] for e in body["data"]["timeline"]["edges"]]
    assert "NOTE_ADDED" in kinds  # written to the survivor
    assert "CUSTOMER_MERGED" in kinds
    other = await embed_query(gateway.http, token, gid(s))  # still its one id
    assert other.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def issue_for(gateway: Gateway, customer: str) -> dict:
    body = await gateway.gql(ISSUE, {"c": customer, "s": None})
    assert "errors" not in body, body
    issued: dict = body["data"]["createEmbedToken"]
    return issued
