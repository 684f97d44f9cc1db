"""Shopify GraphQL JSON -> canonical models."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from connectors.models import Money
from connectors.shopify import mapping

MONEY = {"shopMoney": {"amount": "1284.5", "currencyCode": "USD"}}
ZERO = {"shopMoney": {"amount": "0.0", "currencyCode": "USD"}}

ORDER = {
    "id": "gid://shopify/Order/5600000001025",
    "name": "#2026",
    "createdAt": "2025-03-20T13:14:05Z",
    "processedAt": "2025-03-20T13:14:05Z",
    "cancelledAt": None,
    "displayFinancialStatus": "SOMETHING_NEW",
    "displayFulfillmentStatus": "FULFILLED",
    "customer": {"id": "gid://shopify/Customer/7301234560001"},
    "totalPriceSet": MONEY,
    "subtotalPriceSet": MONEY,
    "totalRefundedSet": ZERO,
    "lineItems": {
        "nodes": [
            {
                "id": "gid://shopify/LineItem/1",
                "title": "Rain Parka",
                "quantity": 1,
                "sku": "",
                "variantTitle": None,
                "product": None,
                "originalUnitPriceSet": MONEY,
                "discountedTotalSet": MONEY,
            }
        ]
    },
    "refunds": [
        {
            "id": "gid://shopify/Refund/9",
            "createdAt": "2025-03-21T00:00:00Z",
            "note": None,
            "totalRefundedSet": ZERO,
        }
    ],
    "returns": {
        "nodes": [
            {
                "id": "gid://shopify/Return/3",
                "name": "#2026-R1",
                "status": "CLOSED",
                "createdAt": None,
                "totalQuantity": 1,
            }
        ]
    },
}


def test_unpadded_money_strings_become_exact_decimals() -> None:
    assert mapping.money(MONEY) == Money(Decimal("1284.5"), "USD")
    assert mapping.money(ZERO["shopMoney"]).amount == Decimal("0.0")


def test_an_order_maps_with_its_line_items_refunds_and_returns() -> None:
    order = mapping.order(ORDER)
    assert order.customer_id == "gid://shopify/Customer/7301234560001"
    assert order.processed_at == datetime(2025, 3, 20, 13, 14, 5, tzinfo=UTC)
    assert order.total.amount == Decimal("1284.5")
    assert order.refunds[0].order_id == order.id
    assert order.returns[0].status == "CLOSED"
    assert order.returns[0].quantity == 1


def test_an_unknown_enum_value_is_passed_through() -> None:
    assert mapping.order(ORDER).financial_status == "SOMETHING_NEW"


def test_a_line_item_of_a_deleted_product_has_no_category_and_no_sku() -> None:
    item = mapping.order(ORDER).line_items[0]
    assert item.category is None
    assert item.product_id is None
    assert item.sku is None


def test_a_customer_prefers_the_new_contact_fields_and_reads_counts_as_strings() -> (
    None
):
    node = {
        "id": "gid://shopify/Customer/1",
        "email": "old@example.com",
        "defaultEmailAddress": {
            "emailAddress": "new@example.com",
            "marketingState": "SUBSCRIBED",
        },
        "defaultPhoneNumber": None,
        "phone": "+14155550100",
        "numberOfOrders": "7",
        "amountSpent": {"amount": "0.0", "currencyCode": "EUR"},
        "tags": ["vip"],
        "createdAt": "2024-01-01T00:00:00Z",
    }
    customer = mapping.customer(node)
    assert customer.email == "new@example.com"
    assert customer.phone == "+14155550100"
    assert customer.number_of_orders == 7
    assert customer.amount_spent == Money(Decimal("0.0"), "EUR")
    assert customer.tags == ("vip",)
    assert customer.properties["email_marketing_state"] == "SUBSCRIBED"


def test_a_customer_of_an_older_api_version_falls_back_to_the_deprecated_fields() -> (
    None
):
    customer = mapping.customer({"id": "gid://shopify/Customer/1", "email": "a@b.c"})
    assert customer.email == "a@b.c"
    assert customer.number_of_orders is None


NULLABLE = {
    # every field the connector reads that Shopify's 2025-07 Admin schema
    # declares nullable (Shopify/cli packages/shopify-dev-tools/src/data/
    # admin_2025-07.json.gz): (sample, path to the field)
    "Order.cancelledAt": ("order", ("cancelledAt",)),
    "Order.displayFinancialStatus": ("order", ("displayFinancialStatus",)),
    "Order.customer": ("order", ("customer",)),
    "Order.subtotalPriceSet": ("order", ("subtotalPriceSet",)),
    "LineItem.sku": ("order", ("lineItems", "nodes", 0, "sku")),
    "LineItem.variantTitle": ("order", ("lineItems", "nodes", 0, "variantTitle")),
    "LineItem.product": ("order", ("lineItems", "nodes", 0, "product")),
    "Refund.createdAt": ("order", ("refunds", 0, "createdAt")),
    "Refund.note": ("order", ("refunds", 0, "note")),
    "Customer.firstName": ("customer", ("firstName",)),
    "Customer.lastName": ("customer", ("lastName",)),
    "Customer.note": ("customer", ("note",)),
    "Customer.defaultEmailAddress": ("customer", ("defaultEmailAddress",)),
    "Customer.defaultPhoneNumber": ("customer", ("defaultPhoneNumber",)),
    "AbandonedCheckout.completedAt": ("checkout", ("completedAt",)),
    "AbandonedCheckout.customer": ("checkout", ("customer",)),
    "AbandonedCheckoutLineItem.title": ("checkout", ("lineItems", "nodes", 0, "title")),
    "AbandonedCheckoutLineItem.sku": ("checkout", ("lineItems", "nodes", 0, "sku")),
    "AbandonedCheckoutLineItem.product": (
        "checkout",
        ("lineItems", "nodes", 0, "product"),
    ),
}

CUSTOMER = {
    "id": "gid://shopify/Customer/7301234560001",
    "firstName": "Maya",
    "lastName": "Lee",
    "createdAt": "2025-03-20T13:14:05Z",
    "note": "VIP",
    "numberOfOrders": "2",
    "amountSpent": {"amount": "10.0", "currencyCode": "USD"},
    "defaultEmailAddress": {"emailAddress": "maya@example.com"},
    "defaultPhoneNumber": {"phoneNumber": "+15550000001"},
}
CHECKOUT = {
    "id": "gid://shopify/AbandonedCheckout/1",
    "abandonedCheckoutUrl": "https://shop.example/recover",
    "createdAt": "2025-03-20T13:14:05Z",
    "completedAt": "2025-03-21T13:14:05Z",
    "customer": {"id": "gid://shopify/Customer/7301234560001"},
    "totalPriceSet": MONEY,
    "lineItems": {
        "nodes": [
            {
                "id": "gid://shopify/AbandonedCheckoutLineItem/1",
                "title": "Rain Parka",
                "quantity": 1,
                "sku": "NW-1",
                "variantTitle": None,
                "product": {
                    "id": "gid://shopify/Product/1",
                    "productType": "Outerwear",
                },
                "originalUnitPriceSet": MONEY,
                "discountedTotalPriceSet": MONEY,
            }
        ]
    },
}
MAPPERS = {
    "order": mapping.order,
    "customer": mapping.customer,
    "checkout": mapping.checkout,
}
SAMPLES = {"order": ORDER, "customer": CUSTOMER, "checkout": CHECKOUT}


@pytest.mark.parametrize("field", NULLABLE)
def test_every_nullable_field_read_may_be_null(field: str) -> None:
    kind, path = NULLABLE[field]
    node = copy.deepcopy(SAMPLES[kind])
    holder: Any = node
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = None
    mapped = MAPPERS[kind](node)
    assert mapped is not None


def test_a_refund_without_created_at_has_no_time_and_keeps_its_amount() -> None:
    node = copy.deepcopy(ORDER)
    node["refunds"][0]["createdAt"] = None
    refund = mapping.order(node).refunds[0]
    assert refund.created_at is None
    assert refund.total == Money(Decimal("0.0"), "USD")


def test_a_checkout_line_without_title_has_none() -> None:
    node = copy.deepcopy(CHECKOUT)
    node["lineItems"]["nodes"][0]["title"] = None
    assert mapping.checkout(node).line_items[0].title is None


def test_fields_left_out_for_a_missing_scope_are_unavailable_not_empty() -> None:
    node = copy.deepcopy(ORDER)
    del node["returns"]
    del node["lineItems"]["nodes"][0]["product"]
    order = mapping.order(node)
    assert order.unavailable == {"returns"}
    assert order.line_items[0].unavailable == {"product_id", "category", "vendor"}
    # null (a deleted product) is not unavailable
    assert mapping.order(ORDER).line_items[0].unavailable == frozenset()
    assert mapping.order(ORDER).unavailable == frozenset()
