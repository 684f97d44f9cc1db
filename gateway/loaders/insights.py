"""Loaders of computed insights: a customer's traits row and RFM row."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from gateway.insights.tables import CustomerRfm, CustomerTraits
from gateway.loaders.crm import SessionLoader


class TraitsByCustomerLoader(SessionLoader):
    async def batch_load_fn(self, ids: Sequence[int]) -> list[CustomerTraits | None]:
        rows = await self.scalars(
            select(CustomerTraits).where(CustomerTraits.customer_id.in_(ids))
        )
        by_id = {row.customer_id: row for row in rows}
        return [by_id.get(i) for i in ids]


class RfmByCustomerLoader(SessionLoader):
    async def batch_load_fn(self, ids: Sequence[int]) -> list[CustomerRfm | None]:
        rows = await self.scalars(
            select(CustomerRfm).where(CustomerRfm.customer_id.in_(ids))
        )
        by_id = {row.customer_id: row for row in rows}
        return [by_id.get(i) for i in ids]
