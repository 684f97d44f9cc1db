"""Every document the Shopify connector sends, priced at its planned sizes with
the simulator's cost model (Shopify's published rules: objects 1, connections
``2 + first × item``): each stays at or under ``queries.PLANNED_COST``, a margin
under Shopify's 1,000-point single-query limit; and each stays valid against
the simulator's schema once the fields of optional scopes are left out."""

from __future__ import annotations

import pytest
from graphql import parse, validate

from connectors.shopify import queries, scopes
from connectors.shopify.cost import requested_cost
from connectors.shopify.simulator.resolvers import build_schema


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
}


@pytest.mark.parametrize("name", PLANNED)
def test_each_document_is_planned_under_the_limit_with_a_margin(name: str) -> None:
    document, variables = PLANNED[name]
    cost = requested_cost(parse(document), None, variables)
    assert 0 < cost <= queries.PLANNED_COST < queries.MAX_COST


def test_the_cost_per_order_the_windows_plan_with_is_the_priced_one() -> None:
    one = requested_cost(
        parse(queries.ORDER_WINDOWS), None, {"ids": ids(1), "first": 1}
    )
    two = requested_cost(
        parse(queries.ORDER_WINDOWS), None, {"ids": ids(1), "first": 2}
    )
    assert two - one == queries.ORDER_COST
    assert one - queries.ORDER_COST == queries.CUSTOMER_COST


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
