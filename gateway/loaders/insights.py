"""Loaders of computed insights: a customer's traits row and RFM row, and the
products it bought with their run-out dates."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from gateway.insights.replenishment import Replenishment, replenishment_of
from gateway.insights.tables import CustomerRfm, CustomerTraits
from gateway.loaders.crm import SessionLoader, grouped


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


class ReplenishmentByCustomerLoader(SessionLoader):
    """Each customer's products, the soonest to run out first, those without a
    date last (then by SKU)."""

    async def batch_load_fn(self, ids: Sequence[int]) -> list[list[Replenishment]]:
        async with self.sessions() as session:
            rows = await replenishment_of(session, ids)
        return grouped(rows, lambda row: row.customer_id, ids)
