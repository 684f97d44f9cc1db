"""Loaders of promo codes: each customer's codes Shopify made, newest first."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from gateway.loaders.crm import SessionLoader, grouped
from gateway.promotions.tables import PromoCode


class PromoCodesByCustomerLoader(SessionLoader):
    """Codes still only reserved (Shopify not asked yet, or its answer lost)
    are left out: they may never exist."""

    async def batch_load_fn(self, ids: Sequence[int]) -> list[list[PromoCode]]:
        rows = await self.scalars(
            select(PromoCode)
            .where(PromoCode.customer_id.in_(ids), PromoCode.discount_id.is_not(None))
            .order_by(PromoCode.created_at.desc(), PromoCode.id.desc())
        )
        return grouped(rows, lambda row: row.customer_id, ids)
