"""The products and categories the facts know, and the operator's intervals.

A segment rule or an interval naming a SKU or a category the order facts have
never seen is a typo, not an empty audience: ``check_known`` refuses it with
BAD_USER_INPUT naming the field, in one statement (an index probe per name),
before anything is saved.
A category is known when a product has it, an order line was bought in it, or
the operator configured it (``category_replenishment``).

Intervals are a table plus two mutations, not settings: marketing sets them
from the API while the gateway runs, every replica reads the same rows at
once, and the category table already held the configured days.
``set_product_interval`` and ``set_category_interval`` write one row (``None``
removes it); every customer's dates follow at once, as they are computed when
read (``gateway.insights.replenishment``).
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import (
    Select,
    delete,
    exists,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.errors import BadUserInput
from gateway.insights.product_tables import Product
from gateway.insights.sql import upsert
from gateway.insights.tables import CategoryReplenishment, OrderLineFact
from gateway.validation import clean_name

MAX_INTERVAL_DAYS = 3650


def clean_sku(value: str, field: str = "sku") -> str:
    return clean_name(value, field, 255)


def clean_category(value: str, field: str = "category") -> str:
    return clean_name(value, field, 100)


async def check_known(
    session: AsyncSession,
    skus: Collection[tuple[str, str]],
    categories: Collection[tuple[str, str]],
) -> None:
    """BAD_USER_INPUT for the first ``(field, value)`` the facts do not know."""
    if not skus and not categories:
        return
    names = sorted({value for _, value in skus})
    parts: list[Select[str, str]] = []
    if names:
        parts.append(select(literal("sku"), Product.sku).where(Product.sku.in_(names)))
    for name in sorted({value for _, value in categories}):
        known = or_(
            *(
                exists().where(column == name)
                for column in (
                    Product.category,
                    OrderLineFact.category,
                    CategoryReplenishment.category,
                )
            )
        )
        parts.append(select(literal("category"), literal(name)).where(known))
    rows = await session.execute(union_all(*parts) if len(parts) > 1 else parts[0])
    found = {(str(kind), str(name)) for kind, name in rows}
    for kind, wanted in (("sku", skus), ("category", categories)):
        for field, value in wanted:
            if (kind, value) not in found:
                raise BadUserInput(f"No product has the {kind} {value!r}.", field=field)


async def set_product_interval(
    session: AsyncSession, sku: str, days: int | None
) -> Product:
    """Set (or, with ``None``, remove) the days one unit of ``sku`` lasts."""
    sku = clean_sku(sku)
    _check_days(days)
    await check_known(session, [("sku", sku)], [])
    await session.execute(
        update(Product).where(Product.sku == sku).values(override_days=days)
    )
    product = await session.scalar(
        select(Product)
        .where(Product.sku == sku)
        .execution_options(populate_existing=True)
    )
    assert product is not None
    return product


async def set_category_interval(
    session: AsyncSession, category: str, days: int | None
) -> str:
    """Set (or, with ``None``, remove) the days one unit of a ``category``
    product lasts when the product has no interval of its own."""
    category = clean_category(category)
    _check_days(days)
    await check_known(session, [], [("category", category)])
    r = CategoryReplenishment
    if days is None:
        await session.execute(delete(r).where(r.category == category))
    else:
        dialect = (await session.connection()).dialect.name
        statement = upsert(dialect, r.__table__).values(category=category, days=days)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["category"], set_={"days": days}
            )
        )
    return category


def _check_days(days: int | None) -> None:
    if days is not None and not 1 <= days <= MAX_INTERVAL_DAYS:
        raise BadUserInput(
            f"`days` is a whole number from 1 to {MAX_INTERVAL_DAYS}.", field="days"
        )
