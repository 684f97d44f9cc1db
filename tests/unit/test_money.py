"""Money as the schema shows it: a decimal string with the currency's digits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.models import Money as CanonicalMoney
from gateway.schema.orders import Money


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("12.5", "USD", "12.50"),
        ("12.500", "EUR", "12.50"),
        ("1200", "JPY", "1200"),
        ("1200.00", "JPY", "1200"),
        ("1.25", "KWD", "1.250"),
        ("7", "usd", "7.00"),
    ],
)
def test_an_amount_has_its_currencys_fixed_number_of_digits(
    amount: str, currency: str, shown: str
) -> None:
    money = Money.of(CanonicalMoney(Decimal(amount), currency))
    assert str(money.amount) == shown
