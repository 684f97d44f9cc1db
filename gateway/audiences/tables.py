"""What the audience sync has done: which segment feeds which list
(``audience_connections``) and, per customer, what was last sent for them
(``audience_members``).

A member's ``state`` is what Klaviyo was last told: ``subscribed`` (a
subscribe job carried them), ``removed`` (they left the segment: taken off the
list, consent kept) or ``unsubscribed`` (their email consent was withdrawn:
unsubscribed). A sync compares the segment and the consents with these rows,
so what it sends is only the difference, and a retry after a failure sends
only what was not recorded.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models import Base, BigId, UTCDateTime, utcnow

SUBSCRIBED = "subscribed"
REMOVED = "removed"
UNSUBSCRIBED = "unsubscribed"


class AudienceConnection(Base):
    __tablename__ = "audience_connections"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    segment_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("segments.id", ondelete="CASCADE"), nullable=False
    )
    list_id: Mapped[str] = mapped_column(String(64), nullable=False)
    """Klaviyo's list id."""
    list_name: Mapped[str] = mapped_column(String(255), nullable=False)
    """The list's name when it was connected."""
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False
    )
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When a sync last finished; null until the first."""
    opt_outs_read_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Klaviyo's time of the latest email suppression read back for this
    connection; null until one was read."""

    __table_args__ = (UniqueConstraint("segment_id", "list_id"),)


class AudienceMember(Base):
    __tablename__ = "audience_members"

    connection_id: Mapped[int] = mapped_column(
        BigId,
        ForeignKey("audience_connections.id", ondelete="CASCADE"),
        primary_key=True,
    )
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (
        CheckConstraint(
            "state IN ('subscribed', 'removed', 'unsubscribed')", name="state"
        ),
        Index("ix_audience_members_connection_id_state", "connection_id", "state"),
    )
