"""Per-product replenishment in the graph: ``Customer.replenishment``, the
products it names, and the operator's intervals (``setProductReplenishment``,
``setCategoryReplenishment``). How dates are computed: docs/segments.md,
"Replenishment", and ``gateway.insights.replenishment``."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import strawberry

from gateway.insights.product_tables import Basis
from gateway.insights.product_tables import Product as ProductRow
from gateway.resolvers import replenishment as resolve
from gateway.resolvers.context import Info
from gateway.resolvers.replenishment import Replenishment

if TYPE_CHECKING:
    from gateway.schema.customer import Customer


@strawberry.enum(description="Which rule gave a replenishment date.")
class ReplenishmentBasis(enum.Enum):
    PRODUCT_OVERRIDE = strawberry.enum_value(
        Basis.PRODUCT_OVERRIDE.value,
        description="The days set for this product (setProductReplenishment).",
    )
    PRODUCT_HISTORY = strawberry.enum_value(
        Basis.PRODUCT_HISTORY.value,
        description="The median days per unit between repeat purchases of this"
        " product across customers.",
    )
    CATEGORY_OVERRIDE = strawberry.enum_value(
        Basis.CATEGORY_OVERRIDE.value,
        description="The days set for the product's category"
        " (setCategoryReplenishment): the product has too few repeats.",
    )
    CATEGORY_HISTORY = strawberry.enum_value(
        Basis.CATEGORY_HISTORY.value,
        description="The median days per unit between repeat purchases of any"
        " product of the category: the product has too few repeats.",
    )
    NONE = strawberry.enum_value(
        Basis.NONE.value,
        description="No rule applies: too few repeats and nothing set.",
    )


@strawberry.type(description="A product (SKU) as the store's orders name it.")
class Product:
    sku: str = strawberry.field(description="The variant's SKU.")
    title: str = strawberry.field(description="The title of its latest order line.")
    category: str | None = strawberry.field(
        description="Shopify's product type; null when no order line named one."
    )
    override_days: int | None = strawberry.field(
        description="Days one unit lasts, as set by setProductReplenishment; null"
        " when none is set (the learned or category interval applies)."
    )

    @classmethod
    def of(cls, row: ProductRow) -> Product:
        return cls(
            sku=row.sku,
            title=row.title,
            category=row.category,
            override_days=row.override_days,
        )


@strawberry.type(
    description="A product the customer bought: the last purchase and when it"
    " runs out (last purchase + days per unit × units)."
)
class ProductReplenishment:
    product: Product = strawberry.field(description="The product.")
    last_purchased_at: datetime = strawberry.field(
        description="When the latest order with it was placed (UTC)."
    )
    quantity: int = strawberry.field(description="Units in that order.")
    days_per_unit: float | None = strawberry.field(
        description="Days one unit lasts, by `basis`; null when the basis is NONE."
    )
    expected_run_out_at: datetime | None = strawberry.field(
        description="When the last purchase runs out (UTC); null when the basis"
        " is NONE."
    )
    confidence: float | None = strawberry.field(
        description="0–1: 1 for a product's set days, n/(n+3) for n repeats"
        " learned, 0.5 for a category's set days, half of n/(n+3) for a"
        " category's repeats; null when the basis is NONE."
    )
    basis: ReplenishmentBasis = strawberry.field(
        description="Which rule gave the date."
    )

    @classmethod
    def of(cls, row: Replenishment) -> ProductReplenishment:
        return cls(
            product=Product(
                sku=row.sku,
                title=row.title,
                category=row.category,
                override_days=row.override_days,
            ),
            last_purchased_at=row.last_purchased_at,
            quantity=row.quantity,
            days_per_unit=row.days_per_unit,
            expected_run_out_at=row.expected_run_out_at,
            confidence=row.confidence,
            basis=ReplenishmentBasis(row.basis.value),
        )


@strawberry.type(description="A category's set replenishment interval.")
class CategoryReplenishment:
    category: str = strawberry.field(description="The product type.")
    days: int | None = strawberry.field(
        description="Days one unit lasts; null when the setting was removed."
    )


async def customer_replenishment(
    root: Customer, info: Info, first: int = 20
) -> list[ProductReplenishment]:
    rows = await resolve.customer_replenishment(info, root.id, first)
    return [ProductReplenishment.of(row) for row in rows]


@strawberry.type
class ReplenishmentMutation:
    @strawberry.mutation(
        description="Set the days one unit of a product lasts, or with `days`"
        " null remove the setting; the customers' dates follow at once."
        " BAD_USER_INPUT for a SKU no order had or days outside 1–3650."
    )
    async def set_product_replenishment(
        self, info: Info, sku: str, days: int | None = None
    ) -> Product:
        return Product.of(await resolve.set_product_interval(info, sku, days))

    @strawberry.mutation(
        description="Set the days one unit of a category's products lasts when a"
        " product has no interval of its own, or with `days` null remove it; the"
        " customers' dates follow at once. BAD_USER_INPUT for a category no"
        " product has or days outside 1–3650."
    )
    async def set_category_replenishment(
        self, info: Info, category: str, days: int | None = None
    ) -> CategoryReplenishment:
        found = await resolve.set_category_interval(info, category, days)
        return CategoryReplenishment(category=found, days=days)
