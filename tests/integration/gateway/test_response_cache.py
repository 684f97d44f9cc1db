"""The whole-response cache of ``customer(id:)`` queries: a repeated query costs
no SQL and no upstream call, any change to the customer (mutation, webhook,
another replica) is seen at once, roles never share an entry, and a hit is
audited like the read it replays."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from strawberry.relay import GlobalID

from gateway.auth.audit import entries_for
from gateway.auth.keys import create_key
from gateway.auth.policy import Role
from gateway.changes.bus import CustomerChange
from gateway.db import models
from gateway.relay.ids import decode_global_id
from tests.conftest import StatementCounter, stored_answers
from tests.integration.gateway.conftest import Gateway

pytestmark = pytest.mark.storage_independent

SIDEBAR = """
query Sidebar($id: ID!) {
  customer(id: $id) {
    id email displayName tags loyaltyBalance
    notes(first: 5) { edges { node { body } } }
    orders(first: 5) { totalCount edges { node { name } } }
    openTicketCount lastSeenAt
  }
}
"""
TAG_CUSTOMER = (
    "mutation($c: ID!, $t: [String!]!) { tagCustomer(customerId: $c, tags: $t) { id } }"
)
NO_UPSTREAM_CALLS = {"shopify": 0, "zendesk": 0, "posthog": 0}


async def first_customer(gateway: Gateway) -> str:
    result = await gateway.gql("{ customers(first: 1) { edges { node { id } } } }")
    customer_id: str = result["data"]["customers"]["edges"][0]["node"]["id"]
    return customer_id


async def sidebar(
    gateway: Gateway, customer_id: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response = await gateway.http.post(
        "/graphql",
        json={"query": SIDEBAR, "variables": {"id": customer_id}},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body


async def tag_customer(gateway: Gateway, customer_id: str, tag: str) -> None:
    """Tag the customer through ``gateway`` (a replica, a mutation)."""
    result = await gateway.gql(TAG_CUSTOMER, {"c": customer_id, "t": [tag]})
    assert "errors" not in result, result


async def test_a_repeated_customer_query_costs_no_sql_and_no_upstream_call(
    cached: Gateway, sql: StatementCounter
) -> None:
    customer_id = await first_customer(cached)
    first = await sidebar(cached, customer_id)
    cached.simulators.reset_counts()
    sql.statements.clear()
    again = await sidebar(cached, customer_id)
    assert again == first
    assert cached.simulators.total_requests() == NO_UPSTREAM_CALLS
    # Only the caller's API key is looked up; nothing of the customer is read.
    assert not [s for s in sql.statements if "customers" in s or "notes" in s]


async def test_a_mutation_is_seen_by_the_next_query(cached: Gateway) -> None:
    customer_id = await first_customer(cached)
    await sidebar(cached, customer_id)
    added = await cached.gql(
        "mutation($c: ID!) { addNote(customerId: $c, body: $b) { id } }".replace(
            "$b", '"called back"'
        ),
        {"c": customer_id},
    )
    assert "errors" not in added, added
    notes = (await sidebar(cached, customer_id))["data"]["customer"]["notes"]
    assert notes["edges"][0]["node"]["body"] == "called back"


async def test_a_profile_update_is_seen_by_the_next_query(cached: Gateway) -> None:
    customer_id = await first_customer(cached)
    await sidebar(cached, customer_id)
    updated = await cached.gql(
        'mutation($c: ID!) { updateCustomer(id: $c, input: {firstName: "Zed"}) '
        "{ id } }",
        {"c": customer_id},
    )
    assert "errors" not in updated, updated
    customer = (await sidebar(cached, customer_id))["data"]["customer"]
    assert customer["displayName"].startswith("Zed")


async def test_a_customer_created_after_its_id_was_asked_for_is_seen(
    cached: Gateway,
) -> None:
    async with cached.services.sessions() as session:
        last = await session.scalar(select(func.max(models.Customer.id)))
    next_id = str(GlobalID("Customer", str(int(last or 0) + 1)))
    before = await cached.gql(
        "query($id: ID!) { customer(id: $id) { email } }", {"id": next_id}
    )
    assert before == {"data": {"customer": None}}  # answered, and stored
    created = await cached.gql(
        'mutation { createCustomer(input: {email: "new@example.com"}) { id } }'
    )
    assert created["data"]["createCustomer"]["id"] == next_id
    after = await cached.gql(
        "query($id: ID!) { customer(id: $id) { email } }", {"id": next_id}
    )
    assert after == {"data": {"customer": {"email": "new@example.com"}}}


async def test_a_webhook_change_sends_the_customer_upstream_again(
    cached: Gateway,
) -> None:
    customer_id = await first_customer(cached)
    await sidebar(cached, customer_id)
    pk = decode_global_id(customer_id, "Customer")[1]
    await cached.services.changes.publish(
        CustomerChange(pk, "shopify", "orders/create")
    )
    cached.simulators.reset_counts()
    await sidebar(cached, customer_id)
    assert cached.simulators.total_requests()["shopify"] >= 1


async def evict_versions(gateway: Gateway, names: list[str]) -> None:
    """What a Redis whose ``maxmemory`` policy evicts (or the in-process LRU)
    may do to versions at any time."""
    responses = gateway.services.responses
    assert responses is not None
    await responses.backend.delete_many([responses.version_key(n) for n in names])


PAGE = (
    "{ customers(first: 3) { edges { node { id orders(first: 2) { totalCount } } } } }"
)


@pytest.mark.parametrize("shape", ["customer", "page"])
async def test_a_version_evicted_after_a_change_never_makes_an_older_answer_current(
    cached: Gateway, shape: str
) -> None:
    """A customer never changed before: its first answer (whole, or its page
    and its fragment) must not be stored under "no version", or a change
    followed by the eviction of its version would make that answer current."""
    customer_id = await first_customer(cached)
    pk = decode_global_id(customer_id, "Customer")[1]
    if shape == "customer":
        await sidebar(cached, customer_id)
    else:
        await cached.gql(PAGE)
    await cached.services.changes.publish(
        CustomerChange(pk, "shopify", "orders/create")
    )
    await evict_versions(cached, ["all", "lists", str(pk)])
    cached.simulators.reset_counts()
    if shape == "customer":
        await sidebar(cached, customer_id)
    else:
        await cached.gql(PAGE)
    assert cached.simulators.total_requests()["shopify"] >= 1


@pytest.mark.parametrize("changed", [False, True])
async def test_an_answer_is_stored_under_a_version_it_created_only_if_none_came_first(
    cached: Gateway, changed: bool
) -> None:
    """A version read missing is created beside the execution; a change that
    set it first (the execution may have read the data before it) leaves
    the answer unstored, so it is executed again next time."""
    responses = cached.services.responses
    assert responses is not None
    customer_id = await first_customer(cached)
    pk = decode_global_id(customer_id, "Customer")[1]
    operation = parse(SIDEBAR).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    variables = {"id": customer_id}
    lookup = responses.lookup(operation, SIDEBAR, None, variables, "admin")
    assert lookup is not None
    await evict_versions(cached, ["all", str(pk)])
    read = await responses.backend.get_many(responses.reading(lookup))
    if changed:  # lands after the read, before the version is created
        await responses.forget_customers([CustomerChange(pk, "api", "update")])
    hit, versions = await responses.get(lookup, read)
    assert hit is None
    await responses.put(lookup, versions, b'{"data":{}}', {})
    hit, _ = await responses.get(lookup)
    assert (hit is None) is changed


async def test_an_erased_customers_answers_fragments_and_pages_are_deleted(
    cached: Gateway,
) -> None:
    """Not only unreadable (their version moved): gone, with every stored
    page, while other customers keep theirs (``ResponseCache.purge_customers``,
    which the erasure runs); those a worker of the previous release stored in
    the entries' previous format too (a rolling deploy)."""
    page = await cached.gql(PAGE)
    ids = [e["node"]["id"] for e in page["data"]["customers"]["edges"]]
    erased, other = (decode_global_id(i, "Customer")[1] for i in ids[:2])
    await sidebar(cached, ids[0])
    await sidebar(cached, ids[1])
    services = cached.services
    responses = services.responses
    assert responses is not None
    earlier = f"{services.settings.cache_prefix}:response"
    await responses.backend.set_many(
        {
            f"{earlier}:v1:{{{erased}}}:d1": b"{}",
            f"{earlier}-fragment:v1:{{{erased}}}:s1": b"{}",
        },
        60,
    )
    held = await stored_answers(services, erased)
    assert {k.split(":")[-4] for k in held} == {"response", "response-fragment"}
    assert await stored_answers(services, "lists")
    kept = await stored_answers(services, other)

    gone = await responses.purge_customers([erased])
    assert await stored_answers(services, erased) == []
    assert await stored_answers(services, "lists") == []
    assert await stored_answers(services, other) == kept
    assert gone == len(held) + 1  # and the page


async def test_other_customers_keep_their_entries(cached: Gateway) -> None:
    result = await cached.gql("{ customers(first: 2) { edges { node { id } } } }")
    one, two = (e["node"]["id"] for e in result["data"]["customers"]["edges"])
    await sidebar(cached, one)
    await sidebar(cached, two)
    pk = decode_global_id(one, "Customer")[1]
    await cached.services.changes.publish(CustomerChange(pk, "crm", "tag_added"))
    cached.simulators.reset_counts()
    await sidebar(cached, two)
    assert cached.simulators.total_requests() == NO_UPSTREAM_CALLS


async def test_roles_never_share_an_entry_and_hits_are_audited(
    cached: Gateway,
) -> None:
    customer_id = await first_customer(cached)
    withdrawn = await cached.gql(  # marketing sees no email without consent
        "mutation($id: ID!) { setConsent(customerId: $id, channel: EMAIL,"
        " state: DENIED) { state } }",
        {"id": customer_id},
    )
    assert "errors" not in withdrawn, withdrawn
    admin = await sidebar(cached, customer_id)
    key, _ = await create_key(cached.services.sessions, "marketing-bot", Role.MARKETING)
    marketing = {"Authorization": f"Bearer {key}"}
    hidden = await sidebar(cached, customer_id, marketing)
    assert admin["data"]["customer"]["email"]
    assert hidden["data"]["customer"]["email"] is None
    again = await sidebar(cached, customer_id, marketing)  # a hit
    assert again == hidden
    await cached.services.audit.flush()
    pk = decode_global_id(customer_id, "Customer")[1]
    reads = [
        e
        for e in await entries_for(cached.services.sessions, pk)
        if e.action == "read" and e.subject == "key:marketing-bot"
    ]
    assert len(reads) == 2  # the execution and the hit


def response_lookups() -> float:
    return sum(
        REGISTRY.get_sample_value(
            "customer_graph_cache_requests_total",
            {"source": "response", "result": result},
        )
        or 0.0
        for result in ("hit", "miss")
    )


@pytest.mark.parametrize(
    ("query", "kept"),
    [
        ("{ customers(first: 3) { edges { node { id lastSeenAt } } } }", True),
        (
            "query($id: ID!) { customer(id: $id) { id } customers(first: 1) "
            "{ totalCount } }",
            True,
        ),
        ('{ customer(email: "nobody@example.com") { id } }', False),
        ("{ customers(first: 1) { totalCount } segments { id } }", False),
    ],
)
async def test_look_ups_by_id_and_pages_of_the_list_are_kept(
    cached: Gateway, query: str, kept: bool
) -> None:
    customer_id = await first_customer(cached)
    before = response_lookups()
    await cached.gql(query, {"id": customer_id} if "$id" in query else None)
    assert response_lookups() == before + kept
    await sidebar(cached, customer_id)
    assert response_lookups() == before + kept + 1


async def test_a_stored_page_lasts_until_any_customer_changes(cached: Gateway) -> None:
    query = "{ customers(first: 3) { totalCount edges { node { id tags } } } }"
    first = await cached.gql(query)
    cached.simulators.reset_counts()
    assert await cached.gql(query) == first
    assert cached.simulators.total_requests() == NO_UPSTREAM_CALLS
    created = await cached.gql(
        'mutation { createCustomer(input: {email: "late@example.com"}) { id } }'
    )
    assert "errors" not in created, created
    counted = await cached.gql(query)
    assert (
        counted["data"]["customers"]["totalCount"]
        == first["data"]["customers"]["totalCount"] + 1
    )


async def test_a_response_with_errors_is_not_cached(cached: Gateway) -> None:
    customer_id = await first_customer(cached)
    cached.simulators.zendesk.fail_next(100, status=503)
    failed = await cached.http.post(
        "/graphql", json={"query": SIDEBAR, "variables": {"id": customer_id}}
    )
    codes = {e["extensions"]["code"] for e in failed.json()["errors"]}
    assert codes == {"UPSTREAM_UNAVAILABLE"}
    cached.simulators.heal()
    await sidebar(cached, customer_id)  # asserts no errors: nothing was kept


async def test_replicas_sharing_redis_see_each_others_changes(
    replicas: tuple[Gateway, Gateway],
) -> None:
    first, second = replicas
    customer_id = await first_customer(first)
    await sidebar(first, customer_id)
    await tag_customer(second, customer_id, "vip")
    tags = (await sidebar(first, customer_id))["data"]["customer"]["tags"]
    assert "vip" in tags


async def test_variables_nested_past_what_a_digest_encodes_are_answered_uncached(
    cached: Gateway,
) -> None:
    """A request is named by the digest of its variables, read before the
    gate (``ResponseCache.known``); variables orjson does not encode (nested
    past 254 levels) make it uncacheable, never a 500."""
    customer_id = await first_customer(cached)
    plain = await sidebar(cached, customer_id)
    deep: object = 1
    for _ in range(300):
        deep = {"a": deep}
    for _ in range(2):
        response = await cached.http.post(
            "/graphql",
            json={"query": SIDEBAR, "variables": {"id": customer_id, "x": deep}},
        )
        assert response.status_code == 200, response.text
        assert response.json() == plain
