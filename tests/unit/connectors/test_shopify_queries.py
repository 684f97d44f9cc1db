"""Every document the Shopify connector sends, priced at its planned sizes with
the simulator's cost model (Shopify's published rules: objects 1, connections
``2 + first × item``, a mutation 10): each stays at or under
``queries.PLANNED_COST``, a margin under Shopify's 1,000-point single-query
limit; each is valid against Shopify's published 2025-07 Admin schema
(tests/data/shopify/), and stays valid against the simulator's schema once the
fields of optional scopes are left out."""

from __future__ import annotations

import pytest
from graphql import parse, validate

from connectors.shopify import discounts, erasure, queries, scopes
from connectors.shopify.cost import requested_cost
from connectors.shopify.simulator.resolvers import build_schema
from tests.unit.connectors.published import published_schema


def ids(count: int) -> list[str]:
    return [f"gid://shopify/Customer/{n}" for n in range(count)]


PLANNED = {
    "CUSTOMERS_BY_IDS": (queries.CUSTOMERS_BY_IDS, {"ids": ids(queries.IDS_PER_CALL)}),
    "CUSTOMERS_SEARCH": (
        queries.CUSTOMERS_SEARCH,
        {"first": queries.MAX_CUSTOMERS_PAGE},
    ),
    "ORDERS": (queries.ORDERS, {"first": queries.MAX_ORDERS_PAGE}),
    "ORDER_WINDOWS 20 full orders": (
        queries.ORDER_WINDOWS,
        {"ids": ids(1), "first": 20},
    ),
    "ORDER_LINES_WINDOWS 35 orders with their lines": (
        queries.ORDER_LINES_WINDOWS,
        {"ids": ids(1), "first": 35},
    ),
    "ORDER_LINE_DETAILS": (
        queries.ORDER_LINE_DETAILS,
        {"ids": ids(queries.LINE_DETAILS_PER_CALL)},
    ),
    "ORDER_LINE_SUMMARIES": (
        queries.ORDER_LINE_SUMMARIES,
        {"id": "gid://shopify/Order/1"},
    ),
    "ORDER_SUMMARY_WINDOWS 50 × 5": (
        queries.ORDER_SUMMARY_WINDOWS,
        {"ids": ids(50), "first": 5},
    ),
    "ORDER_DETAILS": (queries.ORDER_DETAILS, {"ids": ids(queries.DETAILS_PER_CALL)}),
    "ORDER_LINE_ITEMS": (queries.ORDER_LINE_ITEMS, {"id": "gid://shopify/Order/1"}),
    "ORDER_RETURNS": (queries.ORDER_RETURNS, {"id": "gid://shopify/Order/1"}),
    "ORDER_REFUNDS": (queries.ORDER_REFUNDS, {"id": "gid://shopify/Order/1"}),
    "CHECKOUTS": (queries.CHECKOUTS, {"first": queries.MAX_CHECKOUTS_PAGE}),
    "ACCESS_SCOPES": (queries.ACCESS_SCOPES, {}),
    "DISCOUNT_CREATE": (discounts.CREATE, {"input": {}}),
    "DISCOUNT_BY_CODE": (discounts.BY_CODE, {"code": "SKINCARE20-K7Q3XPMN"}),
    "COLLECTIONS": (discounts.COLLECTIONS, {"first": discounts.COLLECTIONS_PAGE}),
    "COLLECTION": (discounts.COLLECTION, {"id": "gid://shopify/Collection/1"}),
    "REQUEST_ERASURE": (
        erasure.REQUEST_ERASURE,
        {"customerId": "gid://shopify/Customer/1"},
    ),
}


@pytest.mark.parametrize("name", PLANNED)
def test_each_document_is_planned_under_the_limit_with_a_margin(name: str) -> None:
    document, variables = PLANNED[name]
    cost = requested_cost(parse(document), None, variables)
    assert 0 < cost <= queries.PLANNED_COST < queries.MAX_COST


@pytest.mark.parametrize(
    ("document", "cost"),
    [
        (queries.ORDER_WINDOWS, queries.ORDER_COST),
        (queries.ORDER_LINES_WINDOWS, queries.ORDER_LINES_COST),
        (queries.ORDER_SUMMARY_WINDOWS, queries.SUMMARY_COST),
    ],
)
def test_the_cost_per_order_the_windows_plan_with_is_the_priced_one(
    document: str, cost: int
) -> None:
    one = requested_cost(parse(document), None, {"ids": ids(1), "first": 1})
    two = requested_cost(parse(document), None, {"ids": ids(1), "first": 2})
    assert two - one == cost
    assert one - cost == queries.CUSTOMER_COST


@pytest.mark.parametrize("name", PLANNED)
def test_each_document_is_valid_against_shopifys_published_schema(name: str) -> None:
    document, _ = PLANNED[name]
    assert validate(published_schema(), parse(document)) == []


def test_a_mutation_costs_ten_beside_what_it_reads_back() -> None:
    create = requested_cost(parse(discounts.CREATE), None, {})
    read_back = requested_cost(parse(discounts.BY_CODE), None, {})
    user_errors = 1  # a list of objects without ``first``
    assert create == 10 + user_errors + read_back


@pytest.mark.parametrize("name", PLANNED)
def test_each_document_stays_valid_without_the_fields_of_optional_scopes(
    name: str,
) -> None:
    if name == "ORDER_RETURNS":
        pytest.skip("reads only returns: never sent without read_returns")
    document, _ = PLANNED[name]
    stripped = scopes.without(document, scopes.withheld_fields(scopes.OPTIONAL))
    assert validate(build_schema(), parse(stripped)) == []
    assert "product {" not in stripped
    assert "returns" not in stripped


def test_access_denied_errors_name_their_scope() -> None:
    denied = [
        {
            "message": "Access denied for returns field. Required access: "
            "`read_returns` access scope.",
            "extensions": {
                "code": "ACCESS_DENIED",
                "requiredAccess": "`read_returns` access scope.",
            },
        },
        {
            "message": "Access denied for product field. Required access: "
            "`read_products` access scope.",
            "extensions": {"code": "ACCESS_DENIED"},
        },
        {
            "message": "Access denied for shop field.",
            "extensions": {"code": "ACCESS_DENIED"},
        },
        {"message": "Throttled", "extensions": {"code": "THROTTLED"}},
    ]
    assert scopes.denied(denied) == {"read_returns", "read_products", ""}
