"""A customer asked for by ``id``: its fields' first upstream reads begin as
soon as its links are known, before its own row is read
(``FragmentExecutor._start_reads``, ``upstream_field(starts=)``) — and only
the reads its fields' resolvers would make: none for a field skipped, or
whose arguments they refuse."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import event, text
from strawberry.relay import GlobalID

from bench.queries import CUSTOMER_360
from bench.subject import Subject, richest_customer
from connectors.scope import current_scope
from gateway.http import fragments
from gateway.runtime.services import Services
from tests.conftest import ANSWER_WAIT
from tests.integration.gateway.conftest import Gateway, open_gateway
from tests.integration.gateway.simulated import customer_id_by_email


@pytest.fixture
async def subject(gateway: Gateway) -> Subject:
    """The richest customer, linked to the three sources by a first view."""
    found = richest_customer(gateway.world, gateway.simulators)
    body = await gateway.gql(CUSTOMER_360.document, {"id": found.global_id})
    assert "errors" not in body, body
    return found


@pytest.fixture
def cold(gateway: Gateway, subject: Subject) -> Callable[..., Any]:
    """A gateway of its own, its in-process caches empty: every read goes
    upstream."""

    @asynccontextmanager
    async def opened(**changes: Any) -> AsyncIterator[Gateway]:
        settings = gateway.services.settings.model_copy(update=changes)
        async with open_gateway(settings, gateway.simulators, gateway.world) as fresh:
            gateway.simulators.reset_counts()
            yield fresh
            gateway.simulators.heal()

    return opened


async def _calls_seen(gateway: Gateway, wanted: dict[str, int]) -> None:
    """Once the simulators have received ``wanted`` calls, within
    ``ANSWER_WAIT``: a call that never leaves fails the test."""

    async def seen() -> None:
        while gateway.simulators.total_requests() != wanted:
            await asyncio.sleep(0.005)

    await asyncio.wait_for(seen(), ANSWER_WAIT)


async def test_the_calls_leave_while_the_customers_row_is_being_read(
    db: Services, subject: Subject, cold: Callable[..., Any]
) -> None:
    """The customers table locked by another transaction: the view's read of
    the customer's row waits, its three calls leave all the same (the links
    were read first); the view answers once the lock goes."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("a table lock that holds a reader back is PostgreSQL's")
    async with cold() as gateway:
        async with db.engine.connect() as locker:
            transaction = await locker.begin()
            await locker.execute(text("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE"))
            answer = asyncio.ensure_future(
                gateway.gql(CUSTOMER_360.document, {"id": subject.global_id})
            )
            try:
                await _calls_seen(gateway, {"shopify": 1, "zendesk": 1, "posthog": 1})
                assert not answer.done()  # the row is still being read
            finally:
                await transaction.rollback()
        body = await answer
    assert "errors" not in body, body
    assert body["data"]["customer"]["orders"]["edges"]
    assert gateway.simulators.total_requests() == {
        "shopify": 1,
        "zendesk": 1,
        "posthog": 1,
    }


async def test_the_customers_fields_execute_once_the_calls_have_left(
    subject: Subject,
    cold: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    cache_prefix: str,
) -> None:
    """The customer's own fields (its profile's statement: addresses, tags,
    consents, loyalty) run after the three calls were sent, not before:
    their execution holds the event loop for milliseconds, while the calls
    wait for Redis's answers (the cache's reads, the budgets). The wait's
    bound is lifted here, so a slow machine cannot cut it short."""
    monkeypatch.setattr(fragments, "DEPARTURE_WAIT", ANSWER_WAIT)
    seen: list[set[str]] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        scope = current_scope()
        if "addresses" in statement and scope is not None:
            seen.append(set(scope.departures.sources))

    async with cold(redis_url=redis_url, cache_prefix=cache_prefix) as gateway:
        engine = gateway.services.engine.sync_engine
        event.listen(engine, "before_cursor_execute", before)
        try:
            body = await gateway.gql(CUSTOMER_360.document, {"id": subject.global_id})
        finally:
            event.remove(engine, "before_cursor_execute", before)
    assert "errors" not in body, body
    assert seen == [{"shopify", "zendesk", "posthog"}]


NOT_READ = [
    # (what the customer's selection holds, the variables, the source whose
    # field does not read, the error code, if any)
    ("orders(first: 1000) { totalCount }", {}, "shopify", "BAD_USER_INPUT"),
    ('orders(first: 5, after: "nonsense") { totalCount }', {}, "shopify", "BAD_USER_INPUT"),
    ("orders(first: -1) { totalCount }", {}, "shopify", "BAD_USER_INPUT"),
    ("orders(first: 5) @skip(if: true) { totalCount }", {}, "shopify", None),
    ("orders(first: 5) @include(if: $on) { totalCount }", {"on": False}, "shopify", None),
    ("... @skip(if: true) { orders(first: 5) { totalCount } }", {}, "shopify", None),
    ("tickets(first: 1000) { pageInfo { hasNextPage } }", {}, "zendesk", "BAD_USER_INPUT"),
    ('tickets(after: "nonsense") { pageInfo { hasNextPage } }', {}, "zendesk", "BAD_USER_INPUT"),
    ("openTicketCount @include(if: $on)", {"on": False}, "zendesk", None),
    ("activity(first: 1000) { pageInfo { hasNextPage } }", {}, "posthog", "BAD_USER_INPUT"),
    ('activity(after: "nonsense") { pageInfo { hasNextPage } }', {}, "posthog", "BAD_USER_INPUT"),
    ("lastSeenAt @skip(if: $on)", {"on": True}, "posthog", None),
]  # fmt: skip


@pytest.mark.parametrize(("selection", "variables", "source", "code"), NOT_READ)
async def test_no_read_begins_that_the_field_would_not_make(
    subject: Subject,
    cold: Callable[..., Any],
    selection: str,
    variables: dict[str, Any],
    source: str,
    code: str | None,
) -> None:
    """Beside a field of each other source, which is read as usual."""
    others = {
        "shopify": "orders(first: 5) { totalCount }",
        "zendesk": "openTicketCount",
        "posthog": "sessionsCount",
    }
    declared = "".join(f", ${name}: Boolean!" for name in variables)
    query = (
        f"query($id: ID!{declared}) {{ customer(id: $id) {{ id {selection} "
        + " ".join(v for k, v in others.items() if k != source)
        + " } }"
    )
    async with cold() as gateway:
        body = await gateway.gql(query, {"id": subject.global_id, **variables})
        calls = gateway.simulators.total_requests()
    assert body["data"]["customer"]["id"] == subject.global_id
    codes = [e["extensions"]["code"] for e in body.get("errors", [])]
    assert codes == ([code] if code else []), body
    assert calls == {s: 0 if s == source else 1 for s in others}


async def test_no_read_begins_for_a_customer_that_does_not_exist(
    cold: Callable[..., Any],
) -> None:
    async with cold() as gateway:
        body = await gateway.gql(
            CUSTOMER_360.document, {"id": str(GlobalID("Customer", str(10**9)))}
        )
        calls = gateway.simulators.total_requests()
    assert body == {"data": {"customer": None}}
    assert calls == {"shopify": 0, "zendesk": 0, "posthog": 0}


FULL_ORDERS = """
query($id: ID!) { customer(id: $id) {
  orders(first: 20) { edges { node { id subtotal { amount } } } }
} }
"""
ORDER_LINES = """
query($id: ID!) { customer(id: $id) {
  orders(first: 20) { edges { node { id lineItems { title } } } }
} }
"""
SUMMARIES = """
query($id: ID!) { customer(id: $id) {
  ... on Customer { orders(first: 7) { edges { node { id name } } } }
} }
"""


@pytest.mark.parametrize("query", [FULL_ORDERS, ORDER_LINES, SUMMARIES])
async def test_the_read_begun_is_the_one_the_field_makes(
    subject: Subject, cold: Callable[..., Any], query: str
) -> None:
    """Begun as deep and as wide as the field reads: one Shopify call, the
    window the field's resolver asks for found begun (no second read)."""
    async with cold() as gateway:
        body = await gateway.gql(query, {"id": subject.global_id})
        calls = gateway.simulators.total_requests()
    assert "errors" not in body, body
    assert body["data"]["customer"]["orders"]["edges"]
    assert calls == {"shopify": 1, "zendesk": 0, "posthog": 0}


STALE = """
query($id: ID!) { c: customer(id: $id) {
  o: orders(first: 3) { edges { node { id } } }
} }
"""


async def test_a_stale_read_begun_early_names_its_fields_path(
    subject: Subject, cold: Callable[..., Any]
) -> None:
    """The read begun for a field is asked for the field's path: served
    stale, the response names it, aliases included."""
    async with cold(cache_ttl_shopify=0.0, read_deadline_seconds=5.0) as gateway:
        # another text of the same query: not answered from the stored response
        fresh = await gateway.gql(STALE + " ", {"id": subject.global_id})
        assert "errors" not in fresh, fresh
        gateway.simulators.shopify.fail_next(100, status=503)
        stale = await gateway.gql(STALE, {"id": subject.global_id})
    assert "errors" not in stale, stale
    assert stale["data"] == fresh["data"]
    [entry] = stale["extensions"]["stale"]
    assert (entry["source"], entry["path"]) == ("shopify", ["c", "o"])


MERGE = """mutation($s: ID!, $m: ID!) {
  mergeCustomers(survivorId: $s, mergedId: $m) { mergeId } }"""
SHORT_VIEW = """query($id: ID!) { customer(id: $id) {
  orders(first: 10) { totalCount } openTicketCount sessionsCount } }"""


def _gid(pk: int) -> str:
    return str(GlobalID("Customer", str(pk)))


async def _with_orders(gateway: Gateway, count: int) -> list[int]:
    """The first ``count`` customers with Shopify orders, linked by a view."""
    found = []
    for person in gateway.world.customers:
        pk = await customer_id_by_email(gateway.services, person.email)
        body = await gateway.gql(SHORT_VIEW, {"id": _gid(pk)})
        if (body["data"]["customer"]["orders"] or {}).get("totalCount"):
            found.append(pk)
            if len(found) == count:
                return found
    raise AssertionError("the world has too few customers with orders")


async def test_a_merged_customers_id_begins_nothing_of_its_own(
    gateway: Gateway,
) -> None:
    """Asked for by a merged customer's id, the survivor answers: its reads,
    warm here, make no call. Reads begun for the merged id (which has no
    stored link left) would look its records up upstream by its e-mail."""
    survivor, merged = gateway.world.customers[3], gateway.world.customers[4]
    kept = await customer_id_by_email(gateway.services, survivor.email)
    gone = await customer_id_by_email(gateway.services, merged.email)
    for pk in (kept, gone):
        assert "errors" not in await gateway.gql(SHORT_VIEW, {"id": _gid(pk)})
    merging = await gateway.gql(MERGE, {"s": _gid(kept), "m": _gid(gone)})
    assert "errors" not in merging, merging
    await gateway.gql(SHORT_VIEW, {"id": _gid(kept)})  # the survivor's, warm
    gateway.simulators.reset_counts()
    body = await gateway.gql(SHORT_VIEW + " ", {"id": _gid(gone)})  # not stored
    assert "errors" not in body, body
    assert gateway.simulators.total_requests() == {
        "shopify": 0,
        "zendesk": 0,
        "posthog": 0,
    }


BY_ID_AND_EMAIL = """query($id: ID!, $e: String) { customer(id: $id, email: $e) {
  orders(first: 5) { totalCount } openTicketCount sessionsCount } }"""


async def test_no_read_begins_for_a_customer_field_the_resolver_refuses(
    subject: Subject, cold: Callable[..., Any]
) -> None:
    """Both an id and an email: refused (give one), and nothing read.
    Without the response cache, so no cached fragment stands in."""
    async with cold(response_cache_ttl=0) as gateway:
        email = gateway.world.customers[5].email
        body = await gateway.gql(BY_ID_AND_EMAIL, {"id": subject.global_id, "e": email})
        calls = gateway.simulators.total_requests()
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert calls == {"shopify": 0, "zendesk": 0, "posthog": 0}


SHAPES = {
    "the 360 view": CUSTOMER_360.document,
    "two root customers, one with a field of no first read": """
        query($other: ID!, $third: ID!) {
          a: customer(id: $other) { orders(first: 5) { totalCount } }
          b: customer(id: $third) { orders(first: 5) { totalCount } returns { id } }
        }""",
    "a field of no first read beside the others": """
        query($id: ID!) { customer(id: $id) {
          a: activity(first: 5) { edges { node { id } } }
          b: activity(first: 50) { edges { node { id } } }
          timeline(first: 5) { edges { node { occurredAt } } }
          orders(first: 5) { totalCount }
        } }""",
    "the same field twice, different windows": """
        query($id: ID!) { customer(id: $id) {
          a: orders(first: 5) { edges { node { id } } }
          b: orders(first: 30) { edges { node { id lineItems { title } } } }
          c: tickets(first: 2) { edges { node { id } } }
          openTicketCount satisfaction { average } lastSeenAt
        } }""",
    "through a fragment, one field skipped": """
        query($id: ID!, $no: Boolean = false) { customer(id: $id) { ...seen } }
        fragment seen on Customer {
          orders(first: 5) @include(if: $no) { totalCount }
          tickets(first: 5) { edges { node { id } } }
          sessionsCount
        }""",
}


@pytest.mark.parametrize("query", SHAPES.values(), ids=list(SHAPES))
async def test_reads_begun_never_add_a_call(
    gateway: Gateway,
    subject: Subject,
    cold: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    query: str,
) -> None:
    """Each shape, cold, with reads begun and with none begun (no field
    saying which it makes first): the same calls to every endpoint, the
    same answer."""
    other, third = await _with_orders(gateway, 2)
    variables = {"id": subject.global_id, "other": _gid(other), "third": _gid(third)}
    variables = {k: v for k, v in variables.items() if f"${k}:" in query}

    async def calls() -> tuple[dict[str, Any], dict[str, int]]:
        async with cold() as fresh:
            body = await fresh.gql(query, variables)
            return body, fresh.simulators.endpoint_counts()

    begun, with_reads = await calls()
    with monkeypatch.context() as patched:
        patched.setattr(fragments, "upstream_starts", lambda _: {})
        none, without = await calls()
    assert "errors" not in begun, begun
    assert begun == none
    assert with_reads == without
