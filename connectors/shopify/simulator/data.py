"""The simulated shop's records, derived from the demo world.

Records are plain dicts shaped like the Admin GraphQL objects (camelCase keys,
gids, unpadded money strings, UTC ``Z`` timestamps), so the simulator schema can
serve them with graphql-core's default resolvers. Keys starting with ``_`` are
private (datetimes and numeric ids used to filter and sort) and never reach the
wire because the schema does not declare them.

Each customer's history comes from ``random.Random(world.seed_for(c, "shopify"))``
and the shopper profile: regular orders at the profile's rate from sign-up (at
most three years back) until the customer lapsed, replenishable products
re-ordered close to ``replenish_days``, and a few cancellations, refunds,
returns and abandoned checkouts (the timing lives in ``simulator_history``).

Fields the Admin schema lets be null are null on a few records, as they can be
in a real shop (``SPARSE``): a line item whose product was deleted, a refund
without ``createdAt``, an abandoned checkout line without a ``title``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from connectors.demo_world import Product, World, WorldCustomer
from connectors.shopify.simulator.collections import catalogue_records
from connectors.shopify.simulator.history import (
    basket,
    checkout_count,
    gid,
    line_item,
    money_bag,
    money_str,
    order_plan,
)

Record = dict[str, Any]

CUSTOMER_ID_BASE = 7_301_234_560_000
ORDER_ID_BASE = 5_600_000_000_000
LINE_ITEM_ID_BASE = 14_000_000_000_000
REFUND_ID_BASE = 9_100_000_000_000
RETURN_ID_BASE = 8_200_000_000_000
CHECKOUT_ID_BASE = 3_300_000_000_000
RETURN_STATUSES = ("CLOSED", "CLOSED", "OPEN", "REQUESTED", "DECLINED", "CANCELED")
SPARSE = 7
"""One refund in ``SPARSE`` has no ``createdAt`` (``Refund.createdAt: DateTime``)
and the first line of one abandoned checkout in ``SPARSE`` no ``title``
(``AbandonedCheckoutLineItem.title: String``); chosen by id, so the rest of the
generated shop does not change."""


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def customer_number(index: int) -> int:
    return CUSTOMER_ID_BASE + index


def customer_gid(index: int) -> str:
    return gid("Customer", customer_number(index))


class ShopifyStore:
    """Every customer, order and abandoned checkout of the simulated shop, its
    catalogue (products and a collection per category, ``collections.py``)
    and the code discounts created in it (``discounts.py``)."""

    def __init__(self, world: World, *, shop: str, deleted: Iterable[int]) -> None:
        self.world = world
        self.shop = shop
        self.deleted = frozenset(deleted)
        self.customers: dict[int, Record] = {}
        self.orders: list[Record] = []
        self.orders_by_customer: dict[int, list[Record]] = {}
        self.checkouts: list[Record] = []
        self.by_gid: dict[str, Record] = {}
        self._order_count: dict[int, int] = {}
        self.collections: list[Record] = []
        for record in catalogue_records(world.now):
            self.by_gid[record["id"]] = record
            if record["__typename"] == "Collection":
                self.collections.append(record)
        self.discounts: list[Record] = []
        """Code discounts created through ``discountCodeBasicCreate``."""
        for customer in world.customers:
            if customer.index not in self.deleted:
                self._add_customer(customer)

    def world_customer(self, number: int) -> WorldCustomer:
        return self.world.customers[number - CUSTOMER_ID_BASE]

    def _add_customer(self, c: WorldCustomer) -> None:
        number = customer_number(c.index)
        rng = random.Random(self.world.seed_for(c, "shopify"))
        record: Record = {
            "__typename": "Customer",
            "id": gid("Customer", number),
            "legacyResourceId": str(number),
            "firstName": c.first_name,
            "lastName": c.last_name,
            "displayName": f"{c.first_name} {c.last_name}",
            "createdAt": iso_z(c.signed_up_at),
            "tags": list(c.tags),
            "note": "Prefers email contact" if rng.random() < 0.1 else None,
            "locale": c.locale,
            "state": "ENABLED" if rng.random() < 0.85 else "DISABLED",
            "verifiedEmail": rng.random() < 0.95,
            "email": c.email,
            "phone": c.phone,
            "defaultEmailAddress": {
                "emailAddress": c.email,
                "marketingState": "SUBSCRIBED" if c.email_consent else "NOT_SUBSCRIBED",
            },
            "defaultPhoneNumber": None
            if c.phone is None
            else {
                "phoneNumber": c.phone,
                "marketingState": "SUBSCRIBED" if c.sms_consent else "NOT_SUBSCRIBED",
            },
            "defaultAddress": {
                "address1": c.address.line1,
                "city": c.address.city,
                "province": c.address.region,
                "zip": c.address.postcode,
                "countryCodeV2": c.address.country,
            },
            "_number": number,
            "_index": c.index,
            "_created": c.signed_up_at,
            "_updated": c.signed_up_at,
        }
        self.customers[number] = record
        self.by_gid[record["id"]] = record
        self.orders_by_customer[number] = []
        self._refresh_totals(record)
        for when, items in order_plan(rng, c, self.world.now):
            self._build_order(rng, c, when, items)
        for k in range(checkout_count(rng, c)):
            self._build_checkout(rng, c, k)

    def add_order(
        self,
        customer_index: int,
        items: Iterable[tuple[Product, int]],
        *,
        processed_at: datetime | None = None,
    ) -> Record:
        """Record a new paid order, as a storefront checkout would (the webhook
        helpers then describe this very order)."""
        c = self.world.customers[customer_index]
        rng = random.Random(self.world.seed_for(c, "shopify-live"))
        when = processed_at or datetime.now(UTC).replace(microsecond=0)
        return self._build_order(rng, c, when, list(items), plain=True)

    def _build_order(
        self,
        rng: random.Random,
        c: WorldCustomer,
        when: datetime,
        items: list[tuple[Product, int]],
        *,
        plain: bool = False,
    ) -> Record:
        number = customer_number(c.index)
        k = self._order_count.get(c.index, 0)
        self._order_count[c.index] = k + 1
        order_id = ORDER_ID_BASE + c.index * 1000 + k
        lines = [
            line_item(rng, LINE_ITEM_ID_BASE + order_id % 10**10 * 10 + j, p, q, c)
            for j, (p, q) in enumerate(items)
        ]
        subtotal = sum(
            (Decimal(li["_unit"]) * li["quantity"] for li in lines), Decimal(0)
        )
        shipping = Decimal("0") if subtotal >= 100 else Decimal("7.5")
        total = subtotal + shipping
        age = self.world.now - when
        roll = 1.0 if plain else rng.random()
        order: Record = {
            "__typename": "Order",
            "id": gid("Order", order_id),
            "legacyResourceId": str(order_id),
            "name": f"#{1001 + c.index * 1000 + k}",
            "createdAt": iso_z(when),
            "processedAt": iso_z(when),
            "cancelledAt": None,
            "cancelReason": None,
            "closedAt": iso_z(when + timedelta(days=30)) if age.days > 30 else None,
            "displayFinancialStatus": "PAID",
            "displayFulfillmentStatus": "FULFILLED" if age.days > 3 else "UNFULFILLED",
            "currencyCode": c.currency,
            "email": c.email,
            "totalPriceSet": money_bag(total, c.currency),
            "subtotalPriceSet": money_bag(subtotal, c.currency),
            "tags": [],
            "note": None,
            "customer": self.customers[number],
            "lineItems": lines,
            "refunds": [],
            "returns": [],
            "_number": order_id,
            "_customer": number,
            "_processed": when,
            "_updated": when,
            "_total": total,
        }
        refunded = Decimal(0)
        if roll < 0.04:
            order["cancelledAt"] = iso_z(when + timedelta(hours=rng.randint(1, 20)))
            order["cancelReason"] = "CUSTOMER"
            order["displayFinancialStatus"] = "REFUNDED"
            order["displayFulfillmentStatus"] = "UNFULFILLED"
            refunded = total
        elif roll < 0.12 and age.days > 7:
            refunded = Decimal(lines[0]["_unit"])
            order["displayFinancialStatus"] = (
                "REFUNDED" if refunded >= total else "PARTIALLY_REFUNDED"
            )
        if refunded:
            refund_at = when + timedelta(days=rng.randint(0, 6), hours=2)
            refund_id = REFUND_ID_BASE + c.index * 1000 + k
            order["refunds"].append(
                {
                    "id": gid("Refund", refund_id),
                    "createdAt": None if refund_id % SPARSE == 0 else iso_z(refund_at),
                    "_created": refund_at,
                    "note": rng.choice(("Damaged in transit", "Changed mind", None)),
                    "totalRefundedSet": money_bag(refunded, c.currency),
                }
            )
            order["_updated"] = refund_at
        if 0.12 <= roll < 0.18 and age.days > 10:
            order["returns"].append(
                {
                    "id": gid("Return", RETURN_ID_BASE + c.index * 1000 + k),
                    "name": f"{order['name']}-R1",
                    "status": rng.choice(RETURN_STATUSES),
                    "createdAt": iso_z(when + timedelta(days=8)),
                    "totalQuantity": lines[0]["quantity"],
                    "returnLineItems": [
                        {"id": gid("ReturnLineItem", order_id), "quantity": 1}
                    ],
                }
            )
        order["totalRefundedSet"] = money_bag(refunded, c.currency)
        order["currentTotalPriceSet"] = money_bag(total - refunded, c.currency)
        order["updatedAt"] = iso_z(order["_updated"])
        order["_refunded"] = refunded
        self.orders.append(order)
        self.orders_by_customer[number].append(order)
        self.by_gid[order["id"]] = order
        self._refresh_totals(self.customers[number])
        return order

    def _refresh_totals(self, customer: Record) -> None:
        orders = self.orders_by_customer[customer["_number"]]
        c = self.world.customers[customer["_index"]]
        spent = sum((o["_total"] - o["_refunded"] for o in orders), Decimal(0))
        customer["numberOfOrders"] = str(len(orders))
        customer["amountSpent"] = {
            "amount": money_str(spent),
            "currencyCode": c.currency,
        }
        if orders:
            latest = max(orders, key=lambda o: o["_processed"])
            customer["lastOrder"] = latest
            customer["_updated"] = max(customer["_updated"], latest["_updated"])
        else:
            customer["lastOrder"] = None
        customer["updatedAt"] = iso_z(customer["_updated"])
        years = (self.world.now - c.signed_up_at).days // 365
        months = (self.world.now - c.signed_up_at).days // 30
        customer["lifetimeDuration"] = (
            f"about {years} year{'s' * (years > 1)}" if years else f"{months} months"
        )

    def _build_checkout(self, rng: random.Random, c: WorldCustomer, k: int) -> None:
        number = CHECKOUT_ID_BASE + c.index * 100 + k
        when = self.world.now - timedelta(
            days=rng.randint(1, 90), hours=rng.randint(0, 23)
        )
        items = basket(rng, c, max(1, c.profile.basket))
        lines = [
            line_item(rng, number * 10 + j, p, q, c) for j, (p, q) in enumerate(items)
        ]
        for line in lines:
            line["__typename"] = "AbandonedCheckoutLineItem"
            line["discountedTotalPriceSet"] = line.pop("discountedTotalSet")
        if number % SPARSE == 0:
            lines[0]["title"] = None
        total = sum((Decimal(li["_unit"]) * li["quantity"] for li in lines), Decimal(0))
        completed = when + timedelta(hours=rng.randint(2, 48))
        recovered = rng.random() < 0.3
        record: Record = {
            "__typename": "AbandonedCheckout",
            "id": gid("AbandonedCheckout", number),
            "name": f"#{number}",
            "abandonedCheckoutUrl": f"https://{self.shop}.myshopify.com/checkouts/ac/"
            f"{number:x}/recover?key={rng.getrandbits(64):016x}",
            "createdAt": iso_z(when),
            "updatedAt": iso_z(completed if recovered else when),
            "completedAt": iso_z(completed) if recovered else None,
            "customer": self.customers[customer_number(c.index)],
            "lineItems": lines,
            "totalPriceSet": money_bag(total, c.currency),
            "subtotalPriceSet": money_bag(total, c.currency),
            "_number": number,
            "_created": when,
            "_updated": completed if recovered else when,
            "_status": "closed" if recovered else "open",
        }
        self.checkouts.append(record)
        self.by_gid[record["id"]] = record
