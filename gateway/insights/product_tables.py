"""The product catalogue and per-product replenishment (docs/segments.md).

``products`` is every SKU the order facts name, with the title and category
last seen and the operator's interval for it, if any. ``learned_intervals``
holds what a full refresh learned from repeat purchases, per product and per
category; ``customer_replenishment`` holds, per customer and product, when the
last purchase runs out and which rule said so. The last two are recomputed
(``gateway.insights.replenishment``); ``products`` is kept by the fact writers
and the ``setProductReplenishment`` mutation.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models import Base, BigId, UTCDateTime


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


class CustomerReplenishment(Base):
    """One product a customer bought: the last purchase and when it runs out."""

    __tablename__ = "customer_replenishment"

    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    sku: Mapped[str] = mapped_column(String(255), primary_key=True)
    category: Mapped[str | None] = mapped_column(String(100))
    last_purchased_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    days_per_unit: Mapped[float | None] = mapped_column(Float)
    expected_run_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    basis: Mapped[str] = mapped_column(String(20), nullable=False)
    confidence: Mapped[float | None] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (
        Index(
            "ix_customer_replenishment_sku_expected_run_out_at",
            "sku",
            "expected_run_out_at",
        ),
        Index(
            "ix_customer_replenishment_category_expected_run_out_at",
            "category",
            "expected_run_out_at",
        ),
        Index("ix_customer_replenishment_expected_run_out_at", "expected_run_out_at"),
    )
