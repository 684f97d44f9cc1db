"""``promo_codes``: the codes created for customers, one row per code.

A row is written before Shopify is asked (``discount_id`` null: the code is
reserved) and completed with the discount's gid after: a retry that finds the
reserved row sends the same code again, which Shopify answers as the discount
already made (``connectors.shopify.discounts``), so an attempt whose answer was
lost never makes a second discount. ``automation_run_id`` is unique: one code
per automation run, however many workers or retries run it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models import Base, BigId, UTCDateTime, utcnow

MAX_CODE = 64
"""Our codes are short (``SKINCARE20-K7Q3XPMN``); Shopify allows 255."""


class PromoCode(Base):
    __tablename__ = "promo_codes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    code: Mapped[str] = mapped_column(String(MAX_CODE), nullable=False, unique=True)
    discount_id: Mapped[str | None] = mapped_column(String(255))
    """The Shopify ``DiscountCodeNode`` gid; null while the code is reserved."""
    percentage: Mapped[int] = mapped_column(Integer, nullable=False)
    category: Mapped[str | None] = mapped_column(String(100))
    """The category the code was asked for; null when a collection was given."""
    collection_id: Mapped[str] = mapped_column(String(255), nullable=False)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    automation_run_id: Mapped[int | None] = mapped_column(
        BigInteger, unique=True, nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False
    )

    __table_args__ = (
        Index("ix_promo_codes_customer_id_created_at", "customer_id", "created_at"),
    )
