"""A customer's shopping history in the simulated shop: when they ordered and
what, drawn from their shopper profile with their own seeded ``Random``.

Regular orders arrive as a Poisson stream at the profile's yearly rate from
sign-up (at most three years back) until the customer lapsed; a replenishable
product (face cream, coffee) is re-ordered around its ``replenish_days``, which
is what makes "due for a refill" segments meaningful in the demo.
"""

from __future__ import annotations

import heapq
import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from connectors.demo_world import CATALOG, Product, WorldCustomer

MAX_ORDERS_PER_CUSTOMER = 200
HISTORY = timedelta(days=3 * 365)
PRODUCT_ID_BASE = 8_410_000_000_000
VARIANT_ID_BASE = 4_410_000_000_000


def money_str(amount: Decimal) -> str:
    """Shopify's ``Decimal`` scalar: no padding, at least one decimal digit."""
    text = format(amount.quantize(Decimal("0.01")).normalize(), "f")
    return text if "." in text else f"{text}.0"


def money_bag(amount: Decimal, currency: str) -> dict[str, Any]:
    money = {"amount": money_str(amount), "currencyCode": currency}
    return {"shopMoney": money, "presentmentMoney": dict(money)}


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def order_plan(
    rng: random.Random, c: WorldCustomer, now: datetime
) -> list[tuple[datetime, list[tuple[Product, int]]]]:
    """Order dates and baskets: a Poisson stream of regular orders merged with
    re-orders of replenishable products around their ``replenish_days``."""
    per_year = c.profile.orders_per_year
    if per_year <= 0:
        return []
    start = max(c.signed_up_at, now - HISTORY)
    end = max(now - timedelta(days=c.profile.lapsed_days), start + timedelta(days=1))
    reorders: list[tuple[datetime, int]] = []
    plan: list[tuple[datetime, list[tuple[Product, int]]]] = []
    moment = start + timedelta(hours=rng.randint(1, 72))
    while len(plan) < MAX_ORDERS_PER_CUSTOMER:
        if reorders and reorders[0][0] <= moment:
            when, product_id = heapq.heappop(reorders)
            items = [(next(p for p in CATALOG if p.id == product_id), 1)]
        elif moment < end:
            when, items = moment, basket(rng, c, c.profile.basket)
            moment += timedelta(days=rng.expovariate(per_year / 365), hours=1)
        else:
            break
        if when >= end:
            continue
        plan.append((when, items))
        for product, _ in items:
            if product.replenish_days and rng.random() < 0.7:
                days = product.replenish_days * rng.uniform(0.85, 1.15)
                heapq.heappush(reorders, (when + timedelta(days=days), product.id))
    return plan


def basket(
    rng: random.Random, c: WorldCustomer, size: int
) -> list[tuple[Product, int]]:
    count = max(1, min(5, round(rng.gauss(size, 0.8))))
    liked = [p for p in CATALOG if p.category in c.profile.categories]
    chosen: dict[int, tuple[Product, int]] = {}
    for _ in range(count):
        pool = liked if liked and rng.random() < 0.75 else list(CATALOG)
        product = rng.choice(pool)
        chosen[product.id] = (product, 1 if rng.random() < 0.8 else rng.randint(2, 3))
    return list(chosen.values())


def checkout_count(rng: random.Random, c: WorldCustomer) -> int:
    weight = 0.5 if c.profile.orders_per_year == 0 else 0.3
    return sum(rng.random() < weight for _ in range(3))


def line_item(
    rng: random.Random, number: int, p: Product, quantity: int, c: WorldCustomer
) -> dict[str, Any]:
    """A line item; about one in twelve points at a since-deleted product."""
    deleted = rng.random() < 0.08
    sku = rng.choice((None, "")) if deleted else f"NW-{p.id}"
    return {
        "__typename": "LineItem",
        "id": gid("LineItem", number),
        "title": p.title,
        "name": p.title,
        "quantity": quantity,
        "sku": sku,
        "variantTitle": None if deleted else "Default Title",
        "product": None
        if deleted
        else {
            "id": gid("Product", PRODUCT_ID_BASE + p.id),
            "title": p.title,
            "productType": p.category,
            "vendor": p.vendor,
        },
        "variant": None
        if deleted
        else {
            "id": gid("ProductVariant", VARIANT_ID_BASE + p.id),
            "sku": sku,
            "title": "Default Title",
        },
        "originalUnitPriceSet": money_bag(p.price, c.currency),
        "discountedTotalSet": money_bag(p.price * quantity, c.currency),
        "_unit": str(p.price),
        "_product": p.id,
    }
