"""Shopify GraphQL JSON -> canonical models."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

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
