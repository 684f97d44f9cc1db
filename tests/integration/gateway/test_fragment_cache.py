"""Customers' cached fragments (``gateway.cache.fragments``): a warm page of
customers executes none of them, a change is seen by the next read, every role
gets byte for byte what execution gives it and is audited the same, and a
change landing between the fragments' read and the response never shows up
half applied."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from gateway.auth.audit import entries_for
from gateway.auth.keys import create_key
from gateway.auth.policy import GRANTABLE_ROLES, Role
from gateway.cache.fragments import FragmentReader
from gateway.changes.bus import CustomerChange
from gateway.db import models
from gateway.relay.ids import decode_global_id
from gateway.runtime.services import Services
from tests.conftest import counting_statements
from tests.integration.gateway.conftest import Gateway, open_gateway
from tests.servers import REDIS_KINDS

pytestmark = pytest.mark.storage_independent

FIELDS = """
      id email phone firstName lastName displayName birthDate tags
      consents { channel state }
      loyaltyBalance
      notes(first: 2) { edges { node { body } } }
      orders(first: 2) { totalCount edges { node { name total { amount } } } }
      openTicketCount lastSeenAt sessionsCount
"""
PAGE = (
    "query Page($first: Int!) { customers(first: $first, orderBy: CREATED_AT_ASC)"
    " { pageInfo { hasNextPage endCursor } edges { cursor node {" + FIELDS + "} } } }"
)
NO_UPSTREAM_CALLS = {"shopify": 0, "zendesk": 0, "posthog": 0}


def fragment_lookups(result: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "customer_graph_cache_requests_total",
            {"source": "fragment", "result": result},
        )
        or 0.0
    )


async def page(
    gateway: Gateway,
    first: int = 10,
    headers: dict[str, str] | None = None,
    operation: str = "Page",
) -> bytes:
    response = await gateway.http.post(
        "/graphql",
        json={
            "query": PAGE.replace("query Page", f"query {operation}"),
            "variables": {"first": first},
            "operationName": operation,
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert "errors" not in response.json(), response.text
    return response.content


async def another_customer_changes(gateway: Gateway) -> None:
    """A change to a customer on no page these tests read: stored pages (the
    response cache's) are stale, their customers' fragments are not."""
    async with gateway.services.sessions() as session:
        last = await session.scalar(  # the newest: the pages read are the oldest
            select(models.Customer.id)
            .order_by(models.Customer.created_at.desc(), models.Customer.id.desc())
            .limit(1)
        )
    assert last is not None
    await gateway.services.changes.publish(CustomerChange(last, "crm", "tag_added"))


def nodes(body: bytes) -> list[dict[str, Any]]:
    import orjson

    edges = orjson.loads(body)["data"]["customers"]["edges"]
    return [edge["node"] for edge in edges]


async def test_a_warm_page_executes_no_customer(gateway: Gateway) -> None:
    cold = await page(gateway)
    await another_customer_changes(gateway)
    gateway.simulators.reset_counts()
    hits = fragment_lookups("hit")
    with counting_statements(gateway.services.engine) as sql:
        warm = await page(gateway)
    assert warm == cold
    assert fragment_lookups("hit") == hits + 10
    assert gateway.simulators.total_requests() == NO_UPSTREAM_CALLS
    # The page's own statement; nothing of its customers (tags, notes, consents…).
    answering = [s for s in sql.statements if "audit_log" not in s]
    assert len([s for s in answering if "FROM customers" in s]) == 1
    assert not [s for s in answering if "notes" in s or "consents" in s or "tags" in s]


async def test_a_page_asked_again_unchanged_is_one_stored_answer(
    gateway: Gateway,
) -> None:
    cold = await page(gateway)
    gateway.simulators.reset_counts()
    hits, misses = fragment_lookups("hit"), fragment_lookups("miss")
    with counting_statements(gateway.services.engine) as sql:
        assert await page(gateway) == cold
    assert (fragment_lookups("hit"), fragment_lookups("miss")) == (hits, misses)
    assert gateway.simulators.total_requests() == NO_UPSTREAM_CALLS
    assert not [s for s in sql.statements if "customers" in s]


async def test_a_change_is_seen_by_the_next_read_and_only_its_customer_executes(
    gateway: Gateway,
) -> None:
    before = nodes(await page(gateway))
    target = before[3]["id"]
    updated = await gateway.gql(
        'mutation($c: ID!) { updateCustomer(id: $c, input: {firstName: "Zed"}) '
        "{ id } }",
        {"c": target},
    )
    assert "errors" not in updated, updated
    tagged = await gateway.gql(
        'mutation($c: ID!) { tagCustomer(customerId: $c, tags: ["vip"]) { id } }',
        {"c": target},
    )
    assert "errors" not in tagged, tagged
    misses = fragment_lookups("miss")
    after = nodes(await page(gateway))
    assert fragment_lookups("miss") == misses + 1
    assert after[3]["firstName"] == "Zed"
    assert "vip" in after[3]["tags"]
    assert after[:3] + after[4:] == before[:3] + before[4:]


async def test_a_changed_selection_or_variable_is_another_fragment(
    gateway: Gateway,
) -> None:
    await page(gateway, first=5)
    hits = fragment_lookups("hit")
    await page(gateway, first=8)  # the page's variable, not the customers'
    assert fragment_lookups("hit") == hits + 5
    query = "query($n: Int!) { customers(first: 5, orderBy: CREATED_AT_ASC) { edges { node { id notes(first: $n) { edges { node { id } } } } } } }"
    await gateway.gql(query, {"n": 1})
    hits = fragment_lookups("hit")
    two = await gateway.gql(query, {"n": 2})
    assert fragment_lookups("hit") == hits  # another value: executed
    await another_customer_changes(gateway)
    assert two == await gateway.gql(query, {"n": 2})
    assert fragment_lookups("hit") == hits + 5


@pytest.fixture
async def uncached(seeded: Services, gateway: Gateway) -> AsyncIterator[Gateway]:
    """A second gateway over the same data without the response cache."""
    settings = seeded.settings.model_copy(update={"response_cache_ttl": 0})
    async with open_gateway(settings, gateway.simulators, gateway.world) as opened:
        yield opened


async def test_every_role_gets_byte_for_byte_what_execution_gives_it_and_the_same_audit(
    gateway: Gateway, uncached: Gateway
) -> None:
    # Marketing's email and phone depend on consent: withdraw one customer's.
    first = nodes(await page(uncached, first=6, operation="Ids"))
    withdrawn = await gateway.gql(
        "mutation($id: ID!) { setConsent(customerId: $id, channel: EMAIL,"
        " state: DENIED) { state } }",
        {"id": first[2]["id"]},
    )
    assert "errors" not in withdrawn, withdrawn
    for role in sorted(GRANTABLE_ROLES):
        key, _ = await create_key(gateway.services.sessions, f"{role}-bot", Role(role))
        headers = {"Authorization": f"Bearer {key}"}
        executed = await page(uncached, 6, headers)
        cold = await page(gateway, 6, headers, operation="Cold")
        hits = fragment_lookups("hit")
        warm = await page(gateway, 6, headers, operation="Warm")
        assert fragment_lookups("hit") == hits + 6, role
        assert cold == executed == warm, role
    await gateway.services.audit.flush()
    await uncached.services.audit.flush()
    for node in first:
        pk = decode_global_id(node["id"], "Customer")[1]
        entries = await entries_for(gateway.services.sessions, pk, limit=1000)
        by_operation: dict[str, dict[str, list[str]]] = {}
        for entry in entries:
            if entry.action == "read" and entry.operation in ("Page", "Cold", "Warm"):
                by_operation.setdefault(entry.operation, {})[entry.subject] = list(
                    entry.fields
                )
        assert by_operation["Warm"] == by_operation["Cold"] == by_operation["Page"]
        # Every role but the analyst's (shown no personal data) has its entry.
        assert len(by_operation["Warm"]) == len(GRANTABLE_ROLES) - 1


@contextmanager
def changed_after_the_read(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, target: str, *mutations: str
) -> Iterator[None]:
    """Inside the block, the first read of fragments is followed at once by
    ``mutations`` of ``target`` (``$c``), before the response is assembled."""
    read_many = FragmentReader._read_many
    done: list[bool] = []

    async def read_then_change(self: FragmentReader, slots: Any) -> Any:
        found = await read_many(self, slots)
        if not done:
            done.append(True)
            for mutation in mutations:
                result = await gateway.gql(mutation, {"c": target})
                assert "errors" not in result, result
        return found

    monkeypatch.setattr(FragmentReader, "_read_many", read_then_change)
    try:
        yield
    finally:
        monkeypatch.setattr(FragmentReader, "_read_many", read_many)


async def test_a_change_between_the_read_and_the_response_shows_whole(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fragments are read; a mutation commits and is announced; the
    response is assembled. The changed customer shows entirely as it was (its
    fragment, read before), never some fields old and some new; the next
    read shows it entirely as it is."""
    before = nodes(await page(gateway))
    await another_customer_changes(gateway)
    with changed_after_the_read(
        gateway,
        monkeypatch,
        before[4]["id"],
        'mutation($c: ID!) { updateCustomer(id: $c, input: {firstName: "New",'
        ' lastName: "Name"}) { id } }',
        'mutation($c: ID!) { tagCustomer(customerId: $c, tags: ["new"]) { id } }',
    ):
        during = nodes(await page(gateway))
    assert during == before  # every customer whole, as read
    after = nodes(await page(gateway))
    changed = after[4]
    assert (changed["firstName"], changed["lastName"]) == ("New", "Name")
    assert changed["displayName"] == "New Name"
    assert "new" in changed["tags"]
    assert after[:4] + after[5:] == before[:4] + before[5:]


async def test_a_change_while_a_customer_executes_is_not_kept_stale(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cold: the fragments are stale, so the customers execute — from the rows
    the page read before the versions were. A change to a row lands after
    that read: what its customer showed is the old row, and it is stored under
    the versions read before the change, so the next read executes it again."""
    first = nodes(await page(gateway, first=3))
    await gateway.services.responses.forget_all()  # every fragment stale
    with changed_after_the_read(
        gateway,
        monkeypatch,
        first[1]["id"],
        'mutation($c: ID!) { updateCustomer(id: $c, input: {firstName: "Late"})'
        " { id } }",
    ):
        during = nodes(await page(gateway, first=3))
    assert during[1]["firstName"] == first[1]["firstName"]  # the row read before
    after = nodes(await page(gateway, first=3))
    assert after[1]["firstName"] == "Late"
    assert after[1]["displayName"].startswith("Late")


@pytest.fixture(params=REDIS_KINDS)
async def on_redis(
    request: pytest.FixtureRequest,
    seeded: Services,
    gateway: Gateway,
    cache_prefix: str,
) -> AsyncIterator[Gateway]:
    url = request.getfixturevalue(REDIS_KINDS[request.param])
    settings = seeded.settings.model_copy(
        update={"redis_url": url, "cache_prefix": cache_prefix}
    )
    async with open_gateway(settings, gateway.simulators, gateway.world) as opened:
        yield opened


async def test_a_warm_page_is_one_read_on_redis_and_its_cluster(
    on_redis: Gateway,
) -> None:
    cold = await page(on_redis, first=20)
    await another_customer_changes(on_redis)
    on_redis.simulators.reset_counts()
    hits = fragment_lookups("hit")
    assert await page(on_redis, first=20) == cold
    assert fragment_lookups("hit") == hits + 20
    assert on_redis.simulators.total_requests() == NO_UPSTREAM_CALLS


async def test_a_consent_withdrawn_hides_marketings_email_at_the_next_read(
    gateway: Gateway,
) -> None:
    key, _ = await create_key(gateway.services.sessions, "mkt", Role.MARKETING)
    marketing = {"Authorization": f"Bearer {key}"}
    first = nodes(await page(gateway, 5, marketing))
    shown = [n for n in first if n["email"] is not None]
    assert shown, "the seeded world grants some customers email consent"
    withdrawn = await gateway.gql(
        "mutation($id: ID!) { setConsent(customerId: $id, channel: EMAIL,"
        " state: DENIED) { state } }",
        {"id": shown[0]["id"]},
    )
    assert "errors" not in withdrawn, withdrawn
    hits = fragment_lookups("hit")
    after = {n["id"]: n for n in nodes(await page(gateway, 5, marketing))}
    assert after[shown[0]["id"]]["email"] is None
    assert fragment_lookups("hit") == hits + 4  # the others, from their fragments


async def test_customers_anywhere_in_a_query_are_served_from_fragments(
    gateway: Gateway,
) -> None:
    """Not only ``customers``: a federation router's ``_entities`` too."""
    ids = [n["id"] for n in nodes(await page(gateway, 3))]
    query = (
        "query($r: [_Any!]!) { _entities(representations: $r) {"
        " ... on Customer {" + FIELDS + "} } }"
    )
    representations = [{"__typename": "Customer", "id": i} for i in ids]
    cold = await gateway.gql(query, {"r": representations})
    assert "errors" not in cold, cold
    hits = fragment_lookups("hit")
    assert await gateway.gql(query, {"r": representations}) == cold
    assert fragment_lookups("hit") == hits + 3


async def test_a_customer_answered_stale_is_not_kept(
    seeded: Services, gateway: Gateway
) -> None:
    """Shopify fails, its last good value answers (``extensions.stale``): that
    customer's part is not stored, so once Shopify is back it executes again."""
    settings = seeded.settings.model_copy(
        update={"cache_ttl_shopify": 0.0, "read_deadline_seconds": 5.0}
    )
    async with open_gateway(settings, gateway.simulators, gateway.world) as gw:
        email = next(
            p.email for p in gw.world.customers if p.profile.orders_per_year >= 5
        )
        query = (
            "query($e: String!) { customer(email: $e) {"
            " email orders(first: 3) { edges { node { id } } } } }"
        )
        fresh = await gw.gql(query, {"e": email})
        assert "extensions" not in fresh, fresh
        assert gw.services.responses is not None
        await gw.services.responses.forget_all()
        gw.simulators.shopify.fail_next(100, status=503)
        stale = await gw.gql(query, {"e": email})
        gw.simulators.heal()
        assert stale["extensions"]["stale"][0]["source"] == "shopify"
        misses = fragment_lookups("miss")
        assert await gw.gql(query, {"e": email}) == fresh
        assert fragment_lookups("miss") == misses + 1
