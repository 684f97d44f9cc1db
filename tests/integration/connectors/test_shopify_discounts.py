"""``discountCodeBasicCreate`` on the Shopify simulator, and the connector's
promo-code calls against it: each bad input answers its ``DiscountUserError``
(Shopify's field path and code) and stores nothing; a created code reads back
by code, by id and in ``discountNodes``; the mutation costs 10 and needs
``write_discounts``; collections per category are searchable; a create retried
after its answer was lost makes one discount."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connectors.demo_world import World
from connectors.errors import (
    UpstreamBadResponse,
    UpstreamForbidden,
    UpstreamRejected,
)
from connectors.models import NewDiscountCode
from connectors.retry import RetryPolicy
from connectors.shopify.client import ShopifyConnector
from connectors.shopify.discounts import CREATE
from connectors.shopify.simulator.server import ShopifySimulator
from connectors.simulator_server import Fault, serve_app

PATH = "/admin/api/2025-07/graphql.json"
SKINCARE = "gid://shopify/Collection/4800000000007"
FACE_CREAM = "gid://shopify/Product/8410000000301"
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=11, size=20)


@pytest.fixture
def simulator(world: World) -> ShopifySimulator:
    return ShopifySimulator(world)


@pytest.fixture
async def client(simulator: ShopifySimulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=simulator.app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://northwind-outfitters.myshopify.com",
        headers={"X-Shopify-Access-Token": "shpat_demo"},
    ) as opened:
        yield opened


@pytest.fixture
async def connector(simulator: ShopifySimulator) -> AsyncIterator[ShopifyConnector]:
    """The connector, through the simulator's fault knobs (``inject``)."""
    async with serve_app(simulator.with_faults(simulator.app)) as base_url:
        opened = ShopifyConnector(
            base_url,
            "shpat_demo",
            retry=RetryPolicy(attempts=1, base_delay=0.001, max_delay=0.01),
        )
        yield opened
        await opened.aclose()


async def gql(client: httpx.AsyncClient, query: str, **variables: Any) -> Any:
    response = await client.post(PATH, json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()


def valid(simulator: ShopifySimulator) -> dict[str, Any]:
    return {
        "title": "20% off Skincare",
        "code": "SKINCARE20-K7Q3XPMN",
        "startsAt": NOW.isoformat(),
        "endsAt": (NOW + timedelta(days=30)).isoformat(),
        "customerSelection": {"customers": {"add": [simulator.customer_gid(1)]}},
        "customerGets": valid_gets(),
        "usageLimit": 1,
        "appliesOncePerCustomer": True,
    }


def valid_gets() -> dict[str, Any]:
    return {
        "value": {"percentage": 0.2},
        "items": {"collections": {"add": [SKINCARE]}},
    }


def changed(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set (or with ``...`` remove) the input field at the dotted ``path``."""

    def change(given: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            given = given.setdefault(key, {})
        if value is ...:
            given.pop(last, None)
        else:
            given[last] = value

    return change


BAD: dict[str, tuple[Callable[[dict[str, Any]], None], list[str], str]] = {
    "no title": (changed("title", ...), ["title"], "BLANK"),
    "a blank title": (changed("title", "  "), ["title"], "BLANK"),
    "a title too long": (changed("title", "t" * 256), ["title"], "TOO_LONG"),
    "no code": (changed("code", ...), ["code"], "BLANK"),
    "a code too long": (changed("code", "C" * 256), ["code"], "TOO_LONG"),
    "a code taken, in another case": (
        changed("code", "welcome10"),
        ["code"],
        "TAKEN",
    ),
    "no start": (changed("startsAt", ...), ["startsAt"], "BLANK"),
    "an end before the start": (
        changed("endsAt", (NOW - timedelta(days=1)).isoformat()),
        ["endsAt"],
        "END_DATE_BEFORE_START_DATE",
    ),
    "an end at the start": (
        changed("endsAt", NOW.isoformat()),
        ["endsAt"],
        "END_DATE_BEFORE_START_DATE",
    ),
    "a percentage above 1": (
        changed("customerGets.value.percentage", 1.5),
        ["customerGets", "value", "percentage"],
        "VALUE_OUTSIDE_RANGE",
    ),
    "a negative percentage": (
        changed("customerGets.value.percentage", -0.1),
        ["customerGets", "value", "percentage"],
        "VALUE_OUTSIDE_RANGE",
    ),
    "no value": (
        changed("customerGets.value", ...),
        ["customerGets", "value"],
        "BLANK",
    ),
    "a percentage and an amount": (
        changed("customerGets.value.discountAmount", {"amount": "5.0"}),
        ["customerGets", "value"],
        "TOO_MANY_ARGUMENTS",
    ),
    "an amount of zero": (
        changed("customerGets.value", {"discountAmount": {"amount": "0"}}),
        ["customerGets", "value", "discountAmount", "amount"],
        "GREATER_THAN",
    ),
    "a quantity discount": (
        changed(
            "customerGets.value.discountOnQuantity",
            {"quantity": "2", "effect": {"percentage": 0.5}},
        ),
        ["customerGets", "value", "discountOnQuantity"],
        "INVALID",
    ),
    "no customers": (changed("customerSelection", ...), ["customerSelection"], "BLANK"),
    "an unknown customer": (
        changed("customerSelection.customers.add", ["gid://shopify/Customer/1"]),
        ["customerSelection", "customers", "add"],
        "INVALID",
    ),
    "a deleted customer": (
        changed(
            "customerSelection.customers.add", ["gid://shopify/Customer/7301234560007"]
        ),
        ["customerSelection", "customers", "add"],
        "INVALID",
    ),
    "all customers and some": (
        changed("customerSelection.all", True),
        ["customerSelection"],
        "TOO_MANY_ARGUMENTS",
    ),
    "nothing to get": (changed("customerGets", ...), ["customerGets"], "BLANK"),
    "no items": (
        changed("customerGets.items", ...),
        ["customerGets", "items"],
        "BLANK",
    ),
    "an unknown collection": (
        changed("customerGets.items.collections.add", ["gid://shopify/Collection/9"]),
        ["customerGets", "items", "collections", "add"],
        "INVALID",
    ),
    "a product given as a collection": (
        changed("customerGets.items.collections.add", [FACE_CREAM]),
        ["customerGets", "items", "collections", "add"],
        "INVALID",
    ),
    "an unknown product": (
        changed(
            "customerGets.items",
            {"products": {"productsToAdd": ["gid://shopify/Product/1"]}},
        ),
        ["customerGets", "items", "products", "productsToAdd"],
        "INVALID",
    ),
    "collections and products": (
        changed("customerGets.items.products", {"productsToAdd": [FACE_CREAM]}),
        ["customerGets", "items"],
        "TOO_MANY_ARGUMENTS",
    ),
    "applying on nothing": (
        changed(
            "customerGets",
            {
                **valid_gets(),
                "appliesOnOneTimePurchase": False,
                "appliesOnSubscription": False,
            },
        ),
        ["customerGets"],
        "APPLIES_ON_NOTHING",
    ),
    "a usage limit of 0": (changed("usageLimit", 0), ["usageLimit"], "GREATER_THAN"),
    "two minimums": (
        changed(
            "minimumRequirement",
            {
                "quantity": {"greaterThanOrEqualToQuantity": "2"},
                "subtotal": {"greaterThanOrEqualToSubtotal": "50.0"},
            },
        ),
        ["minimumRequirement"],
        "MINIMUM_SUBTOTAL_AND_QUANTITY_RANGE_BOTH_PRESENT",
    ),
}


@pytest.mark.parametrize("case", BAD)
async def test_each_bad_input_answers_its_user_error_and_stores_nothing(
    client: httpx.AsyncClient, simulator: ShopifySimulator, case: str
) -> None:
    taken = {**valid(simulator), "code": "WELCOME10"}
    assert not (await gql(client, CREATE, input=taken))["data"][
        "discountCodeBasicCreate"
    ]["userErrors"]
    change, path, code = BAD[case]
    given = copy.deepcopy(valid(simulator))
    change(given)
    body = await gql(client, CREATE, input=given)
    payload = body["data"]["discountCodeBasicCreate"]
    assert payload["codeDiscountNode"] is None
    found = [(e["field"], e["code"]) for e in payload["userErrors"]]
    assert (["basicCodeDiscount", *path], code) in found, found
    assert all(e["message"] for e in payload["userErrors"])
    assert len(simulator.store.discounts) == 1


async def test_every_problem_is_answered_at_once(
    client: httpx.AsyncClient, simulator: ShopifySimulator
) -> None:
    given = {**valid(simulator), "title": "", "usageLimit": 0}
    given["customerGets"] = {"value": {"percentage": 2.0}}
    payload = (await gql(client, CREATE, input=given))["data"][
        "discountCodeBasicCreate"
    ]
    assert {e["code"] for e in payload["userErrors"]} == {
        "BLANK",
        "GREATER_THAN",
        "VALUE_OUTSIDE_RANGE",
    }
    assert len(payload["userErrors"]) == 4  # title, usage, percentage, items


READ_BACK = """
query($code: String!, $id: ID!, $search: String!) {
  codeDiscountNodeByCode(code: $code) { id }
  codeDiscountNode(id: $id) { codeDiscount { ... on DiscountCodeBasic {
    title status usageLimit appliesOncePerCustomer summary
    combinesWith { shippingDiscounts }
    codes(first: 5) { nodes { code } }
    customerSelection { ... on DiscountCustomers { customers { id } } }
    customerGets { value { ... on DiscountPercentage { percentage } }
      items { ... on DiscountCollections { collections(first: 5) {
        nodes { title products(first: 5) { nodes { title } } } } } } } } } }
  discountNodes(first: 5, query: $search) { nodes { id } }
  node(id: $id) { id }
}
"""


async def test_a_created_code_reads_back_by_code_id_search_and_node(
    client: httpx.AsyncClient, simulator: ShopifySimulator
) -> None:
    body = await gql(client, CREATE, input=valid(simulator))
    node = body["data"]["discountCodeBasicCreate"]["codeDiscountNode"]
    assert node["id"].startswith("gid://shopify/DiscountCodeNode/")
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] >= 10
    assert 10 <= cost["actualQueryCost"] <= cost["requestedQueryCost"]
    read = await gql(
        client,
        READ_BACK,
        code="skincare20-k7q3xpmn",
        id=node["id"],
        search="code:SKINCARE20-K7Q3XPMN status:active",
    )
    data = read["data"]
    assert data["codeDiscountNodeByCode"] == {"id": node["id"]}
    basic = data["codeDiscountNode"]["codeDiscount"]
    assert basic["status"] == "ACTIVE"
    assert basic["codes"]["nodes"] == [{"code": "SKINCARE20-K7Q3XPMN"}]
    assert basic["customerSelection"]["customers"] == [
        {"id": simulator.customer_gid(1)}
    ]
    assert basic["customerGets"]["value"] == {"percentage": 0.2}
    (collection,) = basic["customerGets"]["items"]["collections"]["nodes"]
    assert collection["title"] == "Skincare"
    assert {p["title"] for p in collection["products"]["nodes"]} >= {
        "Hydrating Face Cream 90-day"
    }
    assert (basic["usageLimit"], basic["appliesOncePerCustomer"]) == (1, True)
    assert data["discountNodes"]["nodes"] == [
        {"id": node["id"].replace("DiscountCodeNode", "DiscountNode")}
    ]
    assert data["node"] == {"id": node["id"]}


async def test_without_write_discounts_the_mutation_is_denied_and_stores_nothing(
    client: httpx.AsyncClient, simulator: ShopifySimulator
) -> None:
    simulator.revoke("write_discounts")
    body = await gql(client, CREATE, input=valid(simulator))
    assert body["data"] == {"discountCodeBasicCreate": None}
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "ACCESS_DENIED"
    assert "`write_discounts`" in error["extensions"]["requiredAccess"]
    assert simulator.store.discounts == []


COLLECTIONS = """
query($q: String!) {
  collections(first: 5, query: $q) { nodes { id title handle productsCount { count } } }
}
"""


@pytest.mark.parametrize(
    "query", ['title:"Skincare"', "handle:skincare", "title:skincare"]
)
async def test_a_category_has_a_collection_of_its_products(
    client: httpx.AsyncClient, query: str
) -> None:
    body = await gql(client, COLLECTIONS, q=query)
    assert body["data"]["collections"]["nodes"] == [
        {
            "id": SKINCARE,
            "title": "Skincare",
            "handle": "skincare",
            "productsCount": {"count": 3},
        }
    ]


async def test_collections_need_read_products(
    client: httpx.AsyncClient, simulator: ShopifySimulator
) -> None:
    simulator.revoke("read_products")
    body = await gql(client, COLLECTIONS, q="handle:skincare")
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"


def wanted(simulator: ShopifySimulator, **changes: Any) -> NewDiscountCode:
    fields: dict[str, Any] = {
        "title": "20% off Skincare",
        "code": "SKINCARE20-K7Q3XPMN",
        "percentage": Decimal("0.2"),
        "customer_ids": (simulator.customer_gid(1),),
        "starts_at": NOW,
        "ends_at": NOW + timedelta(days=30),
        "collection_ids": (SKINCARE,),
    }
    return NewDiscountCode(**{**fields, **changes})


async def test_the_connector_creates_a_code_and_finds_a_categorys_collection(
    connector: ShopifyConnector, simulator: ShopifySimulator
) -> None:
    (found,) = await connector.discounts.collections("skincare")
    assert (found.id, found.title, found.products_count) == (SKINCARE, "Skincare", 3)
    assert await connector.discounts.collections("Gardening") == []
    assert await connector.discounts.collection(SKINCARE) == found
    assert await connector.discounts.collection("gid://shopify/Collection/9") is None
    code = await connector.create_discount_code(wanted(simulator))
    assert (code.code, code.status, code.percentage) == (
        "SKINCARE20-K7Q3XPMN",
        "ACTIVE",
        Decimal("0.2"),
    )
    assert code.customer_ids == (simulator.customer_gid(1),)
    assert code.collection_ids == (SKINCARE,)
    assert code.ends_at == NOW + timedelta(days=30)


async def test_a_create_whose_answer_was_lost_is_one_discount_after_a_retry(
    connector: ShopifyConnector, simulator: ShopifySimulator
) -> None:
    simulator.inject(Fault.MALFORMED_JSON)  # created, then the answer is garbled
    with pytest.raises(UpstreamBadResponse):
        await connector.create_discount_code(wanted(simulator))
    assert len(simulator.store.discounts) == 1
    again = await connector.create_discount_code(wanted(simulator))
    assert again.code == "SKINCARE20-K7Q3XPMN"
    assert len(simulator.store.discounts) == 1
    assert simulator.operations["discountCodeBasicCreate"] == 2
    assert simulator.operations["codeDiscountNodeByCode"] == 1


async def test_a_code_another_discount_holds_is_rejected_as_taken(
    connector: ShopifyConnector, simulator: ShopifySimulator
) -> None:
    await connector.create_discount_code(wanted(simulator))
    other = wanted(simulator, customer_ids=(simulator.customer_gid(2),))
    with pytest.raises(UpstreamRejected) as rejected:
        await connector.create_discount_code(other)
    (reason,) = rejected.value.rejections
    assert (reason.field, reason.code) == (("basicCodeDiscount", "code"), "TAKEN")
    assert len(simulator.store.discounts) == 1


async def test_user_errors_are_a_rejection_with_shopifys_reasons(
    connector: ShopifyConnector, simulator: ShopifySimulator
) -> None:
    bad = wanted(simulator, collection_ids=("gid://shopify/Collection/9",))
    with pytest.raises(UpstreamRejected) as rejected:
        await connector.create_discount_code(bad)
    assert rejected.value.code == "UPSTREAM_REJECTED"
    assert [(r.field[-2:], r.code) for r in rejected.value.rejections] == [
        (("collections", "add"), "INVALID")
    ]
    assert simulator.store.discounts == []


@pytest.mark.parametrize(
    ("scope", "call"),
    [
        ("write_discounts", "create"),
        ("read_products", "collections"),
    ],
)
async def test_a_missing_scope_is_upstream_forbidden(
    connector: ShopifyConnector, simulator: ShopifySimulator, scope: str, call: str
) -> None:
    simulator.revoke(scope)
    calls = {
        "create": lambda: connector.create_discount_code(wanted(simulator)),
        "collections": lambda: connector.discounts.collections("Skincare"),
    }
    with pytest.raises(UpstreamForbidden) as forbidden:
        await calls[call]()
    assert forbidden.value.scope == scope
    assert simulator.store.discounts == []


async def test_a_create_retried_by_the_http_layer_after_a_503_is_one_discount(
    simulator: ShopifySimulator,
) -> None:
    """A 503 after Shopify did the work (a proxy lost its answer): the HTTP
    layer sends the create again, Shopify answers TAKEN, the code is read back."""
    simulator.lose_answers("discountCodeBasicCreate")
    async with serve_app(simulator.app) as base_url:
        retrying = ShopifyConnector(
            base_url,
            "shpat_demo",
            retry=RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.01),
        )
        code = await retrying.create_discount_code(wanted(simulator))
        await retrying.aclose()
    assert code.id == simulator.store.discounts[0]["id"]
    assert len(simulator.store.discounts) == 1
    assert simulator.operations["discountCodeBasicCreate"] == 2
