"""Money as the schema shows it: a decimal string with the currency's digits,
in `Money.amount` and in the sentences of a timeline's summaries alike."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.models import Checkout, Order, Refund
from connectors.models import Money as CanonicalMoney
from gateway.schema.orders import Money
from gateway.timeline.mapping import shopify_items

CASES = [
    ("12.5", "USD", "12.50"),
    ("12.500", "EUR", "12.50"),
    ("1200", "JPY", "1200"),
    ("1200.00", "JPY", "1200"),
    ("1.25", "KWD", "1.250"),
    ("7", "usd", "7.00"),
    ("46.0", "USD", "46.00"),
]


@pytest.mark.parametrize(("amount", "currency", "shown"), CASES)
def test_an_amount_has_its_currencys_fixed_number_of_digits(
    amount: str, currency: str, shown: str
) -> None:
    money = Money.of(CanonicalMoney(Decimal(amount), currency))
    assert str(money.amount) == shown


@pytest.mark.parametrize(("amount", "currency", "shown"), CASES)
def test_a_timeline_summary_writes_an_amount_as_money_amount_shows_it(
    amount: str, currency: str, shown: str
) -> None:
    """Shopify sends ``"46.0"``; the API's ``amount`` says ``"46.00"``, and so
    does the sentence a help-desk sidebar shows beside it."""
    money = CanonicalMoney(Decimal(amount), currency)
    when = datetime(2026, 12, 1, tzinfo=UTC)
    order = Order(
        id="gid://shopify/Order/1", customer_id="gid://shopify/Customer/1",
        name="#1001", created_at=when, processed_at=when, total=money,
        subtotal=money, total_refunded=money, financial_status="PAID",
        fulfillment_status="FULFILLED",
        refunds=(Refund("gid://shopify/Refund/1", "gid://shopify/Order/1", when, money),),
    )  # fmt: skip
    checkout = Checkout("gid://shopify/Checkout/1", None, when, money)
    summaries = [item.summary for item in shopify_items([order], [checkout])]
    written = f"{shown} {currency}"
    assert summaries == [
        f"Placed order #1001 ({written})",
        f"Refunded {written} on order #1001",
        f"Abandoned a checkout ({written})",
    ]
