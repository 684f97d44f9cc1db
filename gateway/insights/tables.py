"""The insights tables: facts copied from upstreams, and what is computed from them.

Facts (``order_facts``, ``order_line_facts``, ``order_item_facts``,
``checkout_facts``, ``engagement_facts``) are the minimum the traits, the
replenishment dates and the segment rules need, so a refresh never calls an
upstream. Computed rows (``customer_traits``, ``customer_rfm``,
``segment_members``) are replaced by a refresh; ``segment_membership_events``
is append-only (the timeline reads it). The product catalogue and the
replenishment rows are in ``gateway.insights.product_tables``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models import Base, BigId, UTCDateTime, utcnow

MONEY = Numeric(14, 2)


def _customer_pk() -> Mapped[int]:
    return mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )


class OrderFact(Base):
    """One store order, reduced to what traits and RFM read.

    On PostgreSQL the per-customer indexes of the facts ``INCLUDE`` what a
    refresh sums (migration 0008): an index-only scan hands the aggregation
    its rows already grouped by customer."""

    __tablename__ = "order_facts"

    order_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    total: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    refunded: Mapped[Decimal] = mapped_column(MONEY, nullable=False, default=0)
    cancelled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    returned: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    item_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    __table_args__ = (
        Index(
            "ix_order_facts_customer_id_processed_at",
            "customer_id",
            "processed_at",
            postgresql_include=[
                "total",
                "refunded",
                "currency",
                "cancelled",
                "returned",
            ],
        ),
    )


class OrderLineFact(Base):
    """Quantity and spend of one category within one order."""

    __tablename__ = "order_line_facts"

    order_id: Mapped[str] = mapped_column(
        String(255),
        ForeignKey("order_facts.order_id", ondelete="CASCADE"),
        primary_key=True,
    )
    category: Mapped[str] = mapped_column(String(100), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, nullable=False)
    """Copied from the order so category aggregates need no join."""
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    spend: Mapped[Decimal] = mapped_column(MONEY, nullable=False)

    __table_args__ = (
        Index(
            "ix_order_line_facts_customer_id_category",
            "customer_id",
            "category",
            postgresql_include=["quantity", "spend"],
        ),
        Index("ix_order_line_facts_category_customer_id", "category", "customer_id"),
    )


class OrderItemFact(Base):
    """Units of one product (SKU) within one order that was not cancelled:
    what per-product replenishment learns from and ``purchased`` filters by.
    Lines without a SKU are only in ``order_line_facts``."""

    __tablename__ = "order_item_facts"

    order_id: Mapped[str] = mapped_column(
        String(255),
        ForeignKey("order_facts.order_id", ondelete="CASCADE"),
        primary_key=True,
    )
    sku: Mapped[str] = mapped_column(String(255), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, nullable=False)
    """Copied from the order, as ``processed_at`` is: a customer's or a
    product's purchases are read from one index, with no join."""
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (
        Index(
            "ix_order_item_facts_customer_id_sku_processed_at",
            "customer_id",
            "sku",
            "processed_at",
            postgresql_include=["quantity"],
        ),
        Index(
            "ix_order_item_facts_sku_customer_id_processed_at",
            "sku",
            "customer_id",
            "processed_at",
            postgresql_include=["quantity"],
        ),
    )


class CheckoutFact(Base):
    """A checkout the customer started: abandoned while ``completed_at`` is null."""

    __tablename__ = "checkout_facts"

    checkout_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_checkout_facts_customer_id_created_at", "customer_id", "created_at"),
    )


class CategoryReplenishment(Base):
    """How many days one unit of a category lasts (face cream: 90), as the
    operator says: a product of the category without its own interval
    (``gateway.insights.replenishment``) and a single-order customer's
    ``predictedNextOrderAt`` use it."""

    __tablename__ = "category_replenishment"

    category: Mapped[str] = mapped_column(String(100), primary_key=True)
    days: Mapped[int] = mapped_column(Integer, nullable=False)


class EngagementFact(Base):
    """Help-desk and analytics facts per customer, copied in bounded batches."""

    __tablename__ = "engagement_facts"

    customer_id: Mapped[int] = _customer_pk()
    open_tickets: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    ticket_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    good_ratings: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    bad_ratings: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow
    )


class PendingCustomer(Base):
    """A customer whose order facts changed while a full refresh ran: the
    refresh read them before, so it brings them up to date after its commit."""

    __tablename__ = "insights_pending"

    customer_id: Mapped[int] = _customer_pk()
    since: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class CustomerTraits(Base):
    __tablename__ = "customer_traits"

    customer_id: Mapped[int] = _customer_pk()
    lifetime_value: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    currency: Mapped[str | None] = mapped_column(String(3))
    order_count: Mapped[int] = mapped_column(Integer, nullable=False)
    average_order_value: Mapped[Decimal | None] = mapped_column(MONEY)
    first_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    average_days_between_orders: Mapped[float | None] = mapped_column(Float)
    favourite_category_by_quantity: Mapped[str | None] = mapped_column(String(100))
    favourite_category_by_spend: Mapped[str | None] = mapped_column(String(100))
    categories: Mapped[str | None] = mapped_column(String(2000))
    """``|``-separated; filters use ``order_line_facts`` instead."""
    return_rate: Mapped[float | None] = mapped_column(Float)
    predicted_next_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    open_tickets: Mapped[int] = mapped_column(Integer, nullable=False)
    ticket_count: Mapped[int] = mapped_column(Integer, nullable=False)
    average_satisfaction: Mapped[float | None] = mapped_column(Float)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (
        Index("ix_customer_traits_lifetime_value", "lifetime_value"),
        Index("ix_customer_traits_predicted_next_order_at", "predicted_next_order_at"),
    )


class CustomerRfm(Base):
    __tablename__ = "customer_rfm"

    customer_id: Mapped[int] = _customer_pk()
    recency: Mapped[int] = mapped_column(Integer, nullable=False)
    frequency: Mapped[int] = mapped_column(Integer, nullable=False)
    monetary: Mapped[int] = mapped_column(Integer, nullable=False)
    segment: Mapped[str] = mapped_column(String(32), nullable=False)
    revenue: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    """Revenue inside the RFM window (what ``rfmSummary`` adds up)."""
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (Index("ix_customer_rfm_segment", "segment"),)


class Segment(Base):
    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    filter: Mapped[dict[str, object]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow
    )
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SegmentMember(Base):
    __tablename__ = "segment_members"

    segment_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    since: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (Index("ix_segment_members_customer_id", "customer_id"),)


class SegmentMembershipEvent(Base):
    """A customer entered (``entered``) or left a saved segment."""

    __tablename__ = "segment_membership_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    segment: Mapped[str] = mapped_column(String(100), nullable=False)
    entered: Mapped[bool] = mapped_column(Boolean, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (
        Index(
            "ix_segment_membership_events_customer_id_occurred_at",
            "customer_id",
            "occurred_at",
        ),
    )
