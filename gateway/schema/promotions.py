"""Promo codes in the graph: ``Customer.promoCodes`` and ``createPromoCode``.
What a code is and how it is made once: docs/shopify.md, "Promo codes", and
``gateway.promotions``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import strawberry

from gateway.resolvers import promotions as resolve
from gateway.resolvers.context import Info
from gateway.resolvers.promotions import PromoCode as PromoCodeRow

if TYPE_CHECKING:
    from gateway.schema.customer import Customer


@strawberry.type(
    description="A Shopify discount code made for one customer: a percentage off"
    " the products of one collection, one use, until `endsAt`."
)
class PromoCode:
    code: str = strawberry.field(
        description="What the customer types at checkout, e.g. SKINCARE20-K7Q3XPMN."
    )
    discount_id: str = strawberry.field(
        description="The Shopify discount (a DiscountCodeNode gid)."
    )
    percentage: int = strawberry.field(description="Percent off, 1–100.")
    category: str | None = strawberry.field(
        description="The product category it was made for; null when a collection"
        " was named instead."
    )
    collection_id: str = strawberry.field(
        description="The Shopify collection whose products it applies to (gid)."
    )
    starts_at: datetime = strawberry.field(description="Valid from (UTC).")
    ends_at: datetime = strawberry.field(description="Valid until (UTC).")
    created_at: datetime = strawberry.field(description="When it was made (UTC).")

    @classmethod
    def of(cls, row: PromoCodeRow) -> PromoCode:
        assert row.discount_id is not None  # only codes Shopify made are shown
        return cls(
            code=row.code,
            discount_id=row.discount_id,
            percentage=row.percentage,
            category=row.category,
            collection_id=row.collection_id,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            created_at=row.created_at,
        )


async def customer_promo_codes(
    root: Customer, info: Info, first: int = 20
) -> list[PromoCode]:
    rows = await resolve.customer_promo_codes(info, root.id, first)
    return [PromoCode.of(row) for row in rows]


@strawberry.type
class PromotionsMutation:
    @strawberry.mutation(
        description="Make a Shopify discount code for one customer: `percentage`"
        " % off the products of `category`'s collection (or of `collection`, a"
        " Shopify collection gid; with neither, the customer's favourite"
        " category by quantity), one use, valid `validDays` days from now."
        " BAD_USER_INPUT (with `field`) for a percentage outside 1–100, days"
        " outside 1–365, both a category and a collection, a customer without a"
        " Shopify account or favourite category, or a category or collection"
        " Shopify does not have; nothing is made then. UPSTREAM_REJECTED when"
        " Shopify refuses the discount, UPSTREAM_FORBIDDEN without its"
        " write_discounts scope."
    )
    async def create_promo_code(
        self,
        info: Info,
        customer_id: strawberry.ID,
        percentage: int,
        category: str | None = None,
        collection: str | None = None,
        valid_days: int = 30,
    ) -> PromoCode:
        row = await resolve.create_promo_code(
            info, customer_id, percentage, category, collection, valid_days
        )
        return PromoCode.of(row)
