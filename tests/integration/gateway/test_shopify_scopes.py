"""Shopify's access scopes and nullable fields, through the gateway's HTTP API:
a field the app may not read is null with ``UPSTREAM_FORBIDDEN`` while the rest
of the customer answers; ``/readyz`` says which scopes are missing and what
they hide (one log line at start-up too); fields Shopify leaves null are null."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.demo_world import World
from connectors.shopify.simulator.server import ShopifySimulator
from gateway.demo.simulation import Simulators
from gateway.metrics import UPSTREAM_REQUESTS
from gateway.runtime import shopify_scopes
from gateway.runtime.services import Services
from tests.integration.gateway.conftest import Gateway, open_gateway

pytestmark = pytest.mark.storage_independent

VIEW = """
query($email: String!) {
  customer(email: $email) {
    email
    shopifyCustomer { id numberOfOrders }
    orders(first: 10) {
      totalCount
      edges { node { id name total { amount }
        lineItems { title quantity category vendor unitPrice { amount } }
        refunds { id } returns { status } } }
    }
    returns { name }
    tickets(first: 5) { edges { node { id } } }
  }
}
"""


@pytest.fixture
def shopify(simulators: Simulators) -> Iterator[ShopifySimulator]:
    """The session's Shopify simulator, its grants restored after the test."""
    granted = dict(simulators.shopify.tokens)
    yield simulators.shopify
    simulators.shopify.tokens.clear()
    simulators.shopify.tokens.update(granted)


def returning_shopper(gateway: Gateway) -> str:
    """The email of a linked customer whose newest 10 orders include a return."""
    store = gateway.simulators.shopify.store
    for person in gateway.world.customers:
        orders = store.orders_by_customer.get(7_301_234_560_000 + person.index, [])
        newest = sorted(orders, key=lambda o: o["_processed"], reverse=True)[:10]
        if person.index % 50 != 7 and any(o["returns"] for o in newest):
            return person.email
    raise AssertionError("no customer with a recent return")


def errors_by_field(result: dict[str, Any]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for error in result.get("errors", []):
        found.setdefault(error["path"][-1], set()).add(error["extensions"]["code"])
        assert error["extensions"]["source"] == "shopify"
    return found


def newest_orders(gateway: Gateway, email: str, count: int) -> list[dict[str, Any]]:
    person = next(p for p in gateway.world.customers if p.email == email)
    store = gateway.simulators.shopify.store
    orders = store.orders_by_customer[7_301_234_560_000 + person.index]
    key = lambda o: (o["processedAt"], o["_number"])  # noqa: E731
    return sorted(orders, key=key, reverse=True)[:count]


async def test_a_scope_lost_while_serving_costs_only_its_fields(
    gateway: Gateway, shopify: ShopifySimulator
) -> None:
    # the gateway opened with every scope: the first read finds out
    shopify.revoke("read_returns", "read_products")
    email = returning_shopper(gateway)
    result = await gateway.gql(VIEW, {"email": email})

    customer = result["data"]["customer"]
    assert customer["email"] == email
    assert customer["tickets"] is not None  # the other upstreams answer
    assert customer["shopifyCustomer"]["id"]
    orders = [edge["node"] for edge in customer["orders"]["edges"]]
    expected = newest_orders(gateway, email, 10)
    assert [o["id"] for o in orders] == [o["id"] for o in expected]
    for order, stored in zip(orders, expected, strict=True):
        assert order["returns"] is None
        assert order["total"]["amount"]
        assert [i["title"] for i in order["lineItems"]] == [
            i["title"] for i in stored["lineItems"]
        ]
        assert all(i["category"] is None for i in order["lineItems"])
        assert all(i["vendor"] is None for i in order["lineItems"])
        assert len(order["refunds"]) == len(stored["refunds"])
    assert customer["returns"] is None
    assert errors_by_field(result) == {
        "returns": {"UPSTREAM_FORBIDDEN"},
        "category": {"UPSTREAM_FORBIDDEN"},
        "vendor": {"UPSTREAM_FORBIDDEN"},
    }
    paths = {tuple(e["path"]) for e in result["errors"]}
    assert ("customer", "returns") in paths
    assert ("customer", "orders", "edges", 0, "node", "returns") in paths
    assert (
        "customer",
        "orders",
        "edges",
        0,
        "node",
        "lineItems",
        0,
        "category",
    ) in paths
    for error in result["errors"]:
        assert "read_" not in error["message"]  # the code says it; no upstream text


async def test_with_every_scope_nothing_is_forbidden_and_readyz_says_ok(
    gateway: Gateway,
) -> None:
    result = await gateway.gql(VIEW, {"email": returning_shopper(gateway)})
    assert "errors" not in result, result
    assert any(
        e["node"]["returns"] for e in result["data"]["customer"]["orders"]["edges"]
    )
    ready = await gateway.http.get("/readyz")
    assert ready.status_code == 200
    detail = ready.json()
    assert set(detail.pop("upstreams")) == {"shopify", "zendesk", "posthog"}
    assert detail == {
        "status": "ok",
        "database": "up",
        "shopify": {"scopes": "ok", "missingScopes": [], "hidden": [], "flagged": []},
    }


async def test_scopes_missing_at_start_up_are_one_log_line_and_readyz_detail(
    seeded: Services,
    simulators: Simulators,
    world: World,
    shopify: ShopifySimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    shopify.revoke("read_all_orders", "read_returns")
    caplog.set_level(logging.WARNING)
    denied = UPSTREAM_REQUESTS.labels(connector="shopify", outcome="access_denied")
    async with open_gateway(seeded.settings, simulators, world) as gateway:
        lines = [r for r in caplog.records if "shopify" in r.getMessage()]
        ready = (await gateway.http.get("/readyz")).json()
        refused = denied._value.get()
        result = await gateway.gql(VIEW, {"email": returning_shopper(gateway)})
        assert denied._value.get() == refused  # returns are not even asked
    assert len(lines) == 1
    line = lines[0].getMessage()
    assert "orders older than 60 days are not visible: read_all_orders missing" in line
    assert "lifetimeValue, rfm" in line
    assert ready["status"] == "ok"
    assert ready["shopify"] == {
        "scopes": "missing",
        "missingScopes": ["read_all_orders", "read_returns"],
        "hidden": [
            "orders older than 60 days are not visible: read_all_orders missing",
            "orders' and customers' returns are null (UPSTREAM_FORBIDDEN):"
            " read_returns missing",
        ],
        "flagged": [
            "lifetimeValue, rfm, traits and the segments built on them count only"
            " the orders of the last 60 days: read_all_orders missing",
            "order facts count no order as returned: read_returns missing",
        ],
    }
    assert set(errors_by_field(result)) == {"returns"}
    assert result["data"]["customer"]["orders"] is not None


async def test_readyz_says_unknown_when_shopify_could_not_be_asked(
    seeded: Services, simulators: Simulators, world: World
) -> None:
    settings = simulators.settings(seeded.settings).model_copy(
        update={"shopify_base_url": "http://127.0.0.1:9"}
    )
    async with open_gateway(settings, simulators, world) as gateway:
        ready = await gateway.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["shopify"] == {"scopes": "unknown"}


def undated_refund_and_untitled_checkout(gateway: Gateway) -> tuple[str, str, str]:
    """An email with a refund Shopify gives no time among its newest 50
    orders, that refund's id, and an email with a checkout line without title."""
    store = gateway.simulators.shopify.store
    refund: tuple[str, str] | None = None
    checkout: str | None = None
    for person in gateway.world.customers:
        if person.index % 50 == 7:
            continue
        number = 7_301_234_560_000 + person.index
        newest = newest_orders(gateway, person.email, 50)
        undated = [r for o in newest for r in o["refunds"] if r["createdAt"] is None]
        if refund is None and undated:
            refund = (person.email, undated[0]["id"])
        untitled = [
            c
            for c in store.checkouts
            if c["customer"]["_number"] == number and c["lineItems"][0]["title"] is None
        ]
        if checkout is None and untitled:
            checkout = person.email
    assert refund is not None
    assert checkout is not None
    return refund[0], refund[1], checkout


async def test_fields_shopify_leaves_null_are_null_without_an_error(
    gateway: Gateway,
) -> None:
    refunded, refund_id, abandoned = undated_refund_and_untitled_checkout(gateway)
    orders = await gateway.gql(
        "query($e: String!) { customer(email: $e) { orders(first: 50) {"
        " edges { node { refunds { id createdAt total { amount } } } } }"
        " timeline(first: 100) { edges { node { kind } } } } }",
        {"e": refunded},
    )
    assert "errors" not in orders, orders
    refunds = [
        r
        for e in orders["data"]["customer"]["orders"]["edges"]
        for r in e["node"]["refunds"]
    ]
    assert {"id": refund_id, "createdAt": None} == {
        k: v
        for k, v in next(r for r in refunds if r["id"] == refund_id).items()
        if k != "total"
    }
    checkouts = await gateway.gql(
        "query($e: String!) { customer(email: $e) {"
        " abandonedCheckouts { lineItems { title quantity } } } }",
        {"e": abandoned},
    )
    assert "errors" not in checkouts, checkouts
    lines = [
        line
        for c in checkouts["data"]["customer"]["abandonedCheckouts"]
        for line in c["lineItems"]
    ]
    assert any(line["title"] is None and line["quantity"] for line in lines)


async def test_a_check_that_failed_at_start_up_runs_again_behind_readyz(
    seeded: Services,
    simulators: Simulators,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    simulators.shopify.fail_next(4, status=503)  # every attempt of the check
    try:
        async with open_gateway(seeded.settings, simulators, world) as gateway:
            scopes = gateway.services.shopify_scopes
            assert scopes is not None
            assert scopes.check is None
            monkeypatch.setattr(shopify_scopes, "RECHECK_SECONDS", 0.0)
            first = (await gateway.http.get("/readyz")).json()
            assert first["shopify"] == {"scopes": "unknown"}  # the probe did not wait
            assert scopes._again is not None
            await scopes._again
            second = (await gateway.http.get("/readyz")).json()
    finally:
        simulators.heal()
    assert second["shopify"]["scopes"] == "ok"
