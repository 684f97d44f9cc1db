"""The outbound webhook tables.

``outbound_endpoints``: where events go, which event types, the signing
secret (and the previous one during a rotation's grace period).
``outbound_messages``: an event as sent, its body stored once however many
endpoints receive it, under one ``msg_…`` id that every retry and replay
reuses (the spec's idempotency key). ``outbound_deliveries``: one message to
one endpoint, its state and the job responsible for it.
``outbound_attempts``: the delivery log, one row per HTTP attempt: status
code, duration, error class and a short sanitized excerpt of the answer.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models import Base, BigId, UTCDateTime, utcnow


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    """Queued: no attempt yet, or queued again by retryDelivery/replayDelivery."""
    SENDING = "sending"
    """A job holds it and is sending."""
    FAILED = "failed"
    """The last attempt failed; the next one is scheduled."""
    DELIVERED = "delivered"
    DEAD = "dead"
    """No more attempts: the budget is spent, the endpoint answered 410 Gone or
    is disabled. ``retryDelivery`` queues it again."""


class Outcome(enum.StrEnum):
    """What one attempt came to."""

    DELIVERED = "delivered"
    FAILED = "failed"
    GONE = "gone"
    """410 Gone: the endpoint is disabled."""
    REFUSED = "refused"
    """Not sent: the target resolved to an address deliveries may not reach."""
    DISABLED = "disabled"
    """Not sent: the endpoint is disabled."""


class OutboundEndpoint(Base):
    __tablename__ = "outbound_endpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2048), nullable=False)
    description: Mapped[str | None] = mapped_column(String(500))
    event_types: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    """The event types it receives; empty: every type."""
    secret: Mapped[str] = mapped_column(String(255), nullable=False)
    """``whsec_`` + base64 of 32 random bytes, sealed (``gateway.sealing``):
    the database alone signs nothing."""
    previous_secret: Mapped[str | None] = mapped_column(String(255))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Until then deliveries carry a signature by each secret."""
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(20))
    """``operator`` (disableWebhookEndpoint) or ``gone`` (it answered 410)."""
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False
    )


class OutboundMessage(Base):
    __tablename__ = "outbound_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    msg_id: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    event_type: Mapped[str] = mapped_column(String(100), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    """The JSON sent, byte for byte: ``{"type", "timestamp", "data"}``."""
    customer_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    """The customer the event is about, if any (erasure finds it by this)."""
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False, index=True
    )
    """Retention purges finished messages by it (``gateway.retention``)."""


class OutboundDelivery(Base):
    __tablename__ = "outbound_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("outbound_messages.id", ondelete="CASCADE"), nullable=False
    )
    endpoint_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("outbound_endpoints.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    """Attempts since it was last queued (the log keeps every one)."""
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    """The job sending it: only that job may take it again (the engine's
    retry of it, or a run after a crashed worker). None once recorded."""
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False
    )
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_outbound_deliveries_endpoint_id_id", "endpoint_id", "id"),
        Index("ix_outbound_deliveries_status_id", "status", "id"),
        Index("ix_outbound_deliveries_message_id", "message_id"),
    )


class OutboundAttempt(Base):
    __tablename__ = "outbound_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("outbound_deliveries.id", ondelete="CASCADE"), nullable=False
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    outcome: Mapped[str] = mapped_column(String(20), nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    error_class: Mapped[str | None] = mapped_column(String(100))
    """``ReadTimeout``, ``ConnectError``, ``HTTPStatus``, ``TargetRefused``…"""
    response_excerpt: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_outbound_attempts_delivery_id_id", "delivery_id", "id"),
    )
