"""The migration seeds ``category_replenishment``; the shared ``db`` fixture
empties every table after each test, so the seed is put back before each one."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, insert

from gateway.insights.tables import CategoryReplenishment
from gateway.runtime.services import Services

REPLENISHMENT = {"Skincare": 90, "Grocery": 30}


@pytest.fixture(autouse=True)
async def replenishment(db: Services) -> None:
    async with db.sessions() as session, session.begin():
        await session.execute(delete(CategoryReplenishment))
        await session.execute(
            insert(CategoryReplenishment),
            [{"category": c, "days": d} for c, d in REPLENISHMENT.items()],
        )
