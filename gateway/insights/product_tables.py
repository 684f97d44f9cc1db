"""The product catalogue and per-product replenishment (docs/segments.md).

``products`` is every SKU the order facts name, with the title and category
last seen and the operator's interval for it, if any; it is kept by the fact
writers and the ``setProductReplenishment`` mutation. ``learned_intervals``
holds what a full refresh learned from repeat purchases, per product and per
category (``gateway.insights.replenishment``, which computes each customer's
dates from these when they are read).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models import Base, UTCDateTime


class Basis(enum.StrEnum):
    """Which rule gave a replenishment date, most specific first."""

    PRODUCT_OVERRIDE = "product_override"
    PRODUCT_HISTORY = "product_history"
    CATEGORY_OVERRIDE = "category_override"
    CATEGORY_HISTORY = "category_history"
    NONE = "none"


class Level(enum.StrEnum):
    PRODUCT = "product"
    CATEGORY = "category"


class Product(Base):
    __tablename__ = "products"

    sku: Mapped[str] = mapped_column(String(255), primary_key=True)
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    category: Mapped[str | None] = mapped_column(String(100))
    """Shopify's product type; kept when a later order line (a webhook's REST
    payload has no product type) does not say it."""
    override_days: Mapped[int | None] = mapped_column(Integer)
    """Days one unit lasts, as the operator says (``setProductReplenishment``)."""

    __table_args__ = (
        Index("ix_products_category", "category"),
        CheckConstraint("override_days > 0", name="override_days"),
    )


class LearnedInterval(Base):
    """The median days one unit lasted between repeat purchases of a product
    (or of any product of a category), from ``samples`` repeats."""

    __tablename__ = "learned_intervals"

    level: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    days: Mapped[float] = mapped_column(Float, nullable=False)
    samples: Mapped[int] = mapped_column(Integer, nullable=False)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
