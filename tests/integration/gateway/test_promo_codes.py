"""Promo codes end to end, on SQLite and PostgreSQL, against the Shopify
simulator over HTTP: the birthday example (one code per customer, limited to
their favourite category, the same codes after the automation retries), a
create whose answer was lost made once, ``createPromoCode`` and
``Customer.promoCodes``, and every bad input refused with its field and nothing
made — no row, no discount, no mutation sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from strawberry.relay import GlobalID

from connectors.errors import UpstreamRejected, UpstreamUnavailable
from connectors.shopify.simulator.discounts import create as create_by_hand
from connectors.shopify.simulator.server import ShopifySimulator
from gateway.changes.bus import CustomerChange
from gateway.db import models
from gateway.identity.links import linked_ids, resolve_links
from gateway.insights.order_facts import sync_orders
from gateway.insights.refresh import refresh_all
from gateway.insights.tables import CustomerTraits
from gateway.promotions.codes import promo_code
from gateway.promotions.service import create_promo_code
from gateway.promotions.tables import PromoCode
from tests.integration.gateway.conftest import Gateway
from tests.integration.gateway.simulated import count

DELETED_IN_SHOPIFY = 7
"""A world index whose Shopify customer does not exist (the simulator's default)."""


@pytest.fixture
def shopify(gateway: Gateway) -> Iterator[ShopifySimulator]:
    """The session's Shopify simulator; its grants and discounts as they were
    after the test (codes derived from run ids repeat across tests)."""
    simulator = gateway.simulators.shopify
    granted = dict(simulator.tokens)
    yield simulator
    simulator.tokens.clear()
    simulator.tokens.update(granted)
    for node in simulator.store.discounts:
        simulator.store.by_gid.pop(node["id"], None)
        simulator.store.by_gid.pop(node["id"].replace("CodeNode", "Node"), None)
    simulator.store.discounts.clear()


def customer_gid(pk: int) -> str:
    return str(GlobalID("Customer", str(pk)))


def discounts_of(simulator: ShopifySimulator, customer_gid: str) -> list[Any]:
    return [
        d["codeDiscount"]
        for d in simulator.store.discounts
        if [c["id"] for c in d["codeDiscount"]["customerSelection"]["customers"]]
        == [customer_gid]
    ]


async def customer_id(gateway: Gateway, index: int) -> int:
    email = gateway.world.customers[index].email
    async with gateway.services.sessions() as session:
        found = await session.scalar(
            select(models.Customer.id).where(models.Customer.email == email)
        )
    assert found is not None
    return int(found)


async def with_favourites(gateway: Gateway, indices: list[int]) -> dict[int, str]:
    """Link the customers, copy their orders and compute their traits, as
    ``insights sync-orders`` and ``insights refresh`` do: their favourite
    category by quantity, by our customer id."""
    services = gateway.services
    shopify = services.upstreams.shopify
    assert shopify is not None
    ids = [await customer_id(gateway, i) for i in indices]
    async with services.sessions() as session:
        rows = (
            await session.scalars(
                select(models.Customer).where(models.Customer.id.in_(ids))
            )
        ).all()
    await resolve_links(services.sessions, shopify, rows, services.match_rules)
    await sync_orders(services.sessions, shopify)
    await refresh_all(services.sessions, services.settings)
    async with services.sessions() as session:
        traits = await session.scalars(
            select(CustomerTraits).where(CustomerTraits.customer_id.in_(ids))
        )
        favourites = {t.customer_id: t.favourite_category_by_quantity for t in traits}
    return {cid: f for cid, f in favourites.items() if f}


def shoppers(gateway: Gateway, count: int) -> list[int]:
    """World indices of customers Shopify has, with orders."""
    store = gateway.simulators.shopify.store
    return [
        c.index
        for c in gateway.world.customers
        if c.index % 50 != DELETED_IN_SHOPIFY
        and store.orders_by_customer.get(7_301_234_560_000 + c.index)
    ][:count]


async def test_the_birthday_example_makes_one_code_per_customer_for_their_favourite(
    gateway: Gateway, shopify: ShopifySimulator
) -> None:
    favourites = await with_favourites(gateway, shoppers(gateway, 4))
    assert len(favourites) == 4
    runs = {cid: 1000 + n for n, cid in enumerate(sorted(favourites))}
    made = {
        cid: await create_promo_code(gateway.services, cid, 20, run_id=run)
        for cid, run in runs.items()
    }
    links = await linked_ids(gateway.services.sessions, "shopify", list(made))
    for cid, code in made.items():
        (discount,) = discounts_of(shopify, links[cid])
        assert discount["codes"][0]["code"] == code.code
        (collection,) = discount["customerGets"]["items"]["collections"]
        assert collection["title"] == favourites[cid] == code.category
        assert discount["customerGets"]["value"]["percentage"] == 0.2
        assert (discount["usageLimit"], discount["appliesOncePerCustomer"]) == (1, True)
        assert code.code.startswith(favourites[cid].upper().replace(" ", "") + "20-")
    shopify.operations.reset()
    again = {
        cid: await create_promo_code(gateway.services, cid, 20, run_id=run)
        for cid, run in runs.items()
    }
    assert {c: r.code for c, r in again.items()} == {c: r.code for c, r in made.items()}
    assert len(shopify.store.discounts) == 4
    assert shopify.operations["discountCodeBasicCreate"] == 0


async def test_a_create_whose_answer_was_lost_is_made_once_on_retry(
    gateway: Gateway, shopify: ShopifySimulator
) -> None:
    cid = await customer_id(gateway, shoppers(gateway, 1)[0])
    attempts = gateway.services.upstreams.shopify.http.retry.attempts  # type: ignore[union-attr]
    shopify.lose_answers("discountCodeBasicCreate", attempts)
    with pytest.raises(UpstreamUnavailable):
        await create_promo_code(
            gateway.services, cid, 15, category="Skincare", run_id=77
        )
    assert len(shopify.store.discounts) == 1  # made, but never heard of
    reserved = await count(gateway.services, PromoCode, PromoCode.discount_id.is_(None))
    assert reserved == 1
    retried = await create_promo_code(
        gateway.services, cid, 15, category="Skincare", run_id=77
    )
    assert retried.discount_id == shopify.store.discounts[0]["id"]
    assert len(shopify.store.discounts) == 1
    assert shopify.operations["discountCodeBasicCreate"] == attempts + 1
    assert await count(gateway.services, PromoCode) == 1


async def test_a_code_another_discount_holds_is_rejected_and_nothing_is_kept(
    gateway: Gateway, shopify: ShopifySimulator
) -> None:
    services = gateway.services
    secret = services.settings.secret_key.get_secret_value().encode()
    by_hand = {
        "title": "Made in the Shopify admin",
        "code": promo_code("Skincare", 10, run_id=6, secret=secret),
        "startsAt": "2026-01-01T00:00:00Z",
        "customerSelection": {"all": True},
        "customerGets": {"value": {"percentage": 0.5}, "items": {"all": True}},
    }
    assert not create_by_hand(shopify.store, by_hand)["userErrors"]
    cid = await customer_id(gateway, shoppers(gateway, 1)[0])
    with pytest.raises(UpstreamRejected) as rejected:
        await create_promo_code(services, cid, 10, category="Skincare", run_id=6)
    assert rejected.value.rejections[0].code == "TAKEN"
    assert await count(services, PromoCode) == 0
    assert len(shopify.store.discounts) == 1


CREATE = """
mutation($c: ID!, $p: Int!, $cat: String, $col: String, $d: Int) {
  createPromoCode(customerId: $c, percentage: $p, category: $cat, collection: $col,
                  validDays: $d) {
    code discountId percentage category collectionId startsAt endsAt
  }
}
"""
CODES = "query($c: ID!) { node(id: $c) { ... on Customer { promoCodes { code } } } }"


async def test_create_promo_code_makes_it_shows_it_and_announces_it(
    gateway: Gateway, shopify: ShopifySimulator
) -> None:
    cid = await customer_id(gateway, shoppers(gateway, 1)[0])
    gid = customer_gid(cid)
    changes: list[CustomerChange] = []

    async def hear(change: CustomerChange) -> None:
        changes.append(change)

    stop = gateway.services.changes.subscribe(hear)
    assert (await gateway.gql(CODES, {"c": gid}))["data"]["node"]["promoCodes"] == []
    answer = await gateway.gql(CREATE, {"c": gid, "p": 25, "cat": "skincare", "d": 14})
    stop()
    assert "errors" not in answer, answer
    made = answer["data"]["createPromoCode"]
    assert made["percentage"] == 25
    assert made["category"] == "skincare"
    assert made["code"].startswith("SKINCARE25-")
    assert made["collectionId"] == "gid://shopify/Collection/4800000000007"
    (discount,) = shopify.store.discounts
    assert made["discountId"] == discount["id"]
    assert discount["codeDiscount"]["endsAt"] == made["endsAt"].replace("+00:00", "Z")
    assert [(c.customer_id, c.kind) for c in changes] == [(cid, "promo_code_created")]
    listed = (await gateway.gql(CODES, {"c": gid}))["data"]["node"]["promoCodes"]
    assert listed == [{"code": made["code"]}]


BAD: dict[str, tuple[dict[str, Any], str]] = {
    "a percentage of 0": ({"p": 0, "cat": "Skincare"}, "percentage"),
    "a percentage of 101": ({"p": 101, "cat": "Skincare"}, "percentage"),
    "a negative percentage": ({"p": -20, "cat": "Skincare"}, "percentage"),
    "no days": ({"p": 20, "cat": "Skincare", "d": 0}, "validDays"),
    "more than a year": ({"p": 20, "cat": "Skincare", "d": 366}, "validDays"),
    "a category and a collection": (
        {"p": 20, "cat": "Skincare", "col": "gid://shopify/Collection/4800000000007"},
        "collection",
    ),
    "a category Shopify has no collection for": (
        {"p": 20, "cat": "Gardening"},
        "category",
    ),
    "a blank category": ({"p": 20, "cat": "  "}, "category"),
    "a collection that does not exist": (
        {"p": 20, "col": "gid://shopify/Collection/9"},
        "collection",
    ),
    "a collection that is not a collection id": (
        {"p": 20, "col": "Skincare"},
        "collection",
    ),
    "no category and no favourite": ({"p": 20}, "category"),
    "a customer without a Shopify account": (
        {"p": 20, "cat": "Skincare", "index": DELETED_IN_SHOPIFY},
        "customerId",
    ),
}


@pytest.mark.parametrize("case", BAD)
async def test_bad_input_is_refused_with_its_field_and_nothing_is_made(
    gateway: Gateway, shopify: ShopifySimulator, case: str
) -> None:
    given, field = BAD[case]
    index = given.get("index", shoppers(gateway, 1)[0])
    gid = customer_gid(await customer_id(gateway, index))
    variables = {k: v for k, v in given.items() if k != "index"}
    answer = await gateway.gql(CREATE, {"c": gid, **variables})
    assert answer["data"] is None
    (error,) = answer["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"]["field"] == field
    assert await count(gateway.services, PromoCode) == 0
    assert shopify.store.discounts == []
    assert shopify.operations["discountCodeBasicCreate"] == 0


async def test_without_write_discounts_it_is_upstream_forbidden_and_nothing_is_kept(
    gateway: Gateway, shopify: ShopifySimulator
) -> None:
    shopify.revoke("write_discounts")
    gid = customer_gid(await customer_id(gateway, 1))
    answer = await gateway.gql(CREATE, {"c": gid, "p": 20, "cat": "Skincare"})
    (error,) = answer["errors"]
    assert error["extensions"] == {"code": "UPSTREAM_FORBIDDEN", "source": "shopify"}
    assert await count(gateway.services, PromoCode) == 0
    assert shopify.store.discounts == []


async def test_an_unknown_customer_is_not_found(
    gateway: Gateway, shopify: ShopifySimulator
) -> None:
    answer = await gateway.gql(CREATE, {"c": customer_gid(999_999), "p": 20})
    assert answer["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert shopify.operations.total == 0
