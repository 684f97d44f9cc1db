"""The automations' tables: definitions, their runs, and segment snapshots.

``automation_runs`` is the exactly-once guard: ``UNIQUE(automation_id,
customer_id, occasion)`` lets a customer have one run per automation and
occasion (``gateway.automations.occasions``) whoever inserts it — a retry, a
second replica evaluating the same trigger at the same moment, an order
webhook delivered twice — since every insert is ``ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models import Base, BigId, UTCDateTime, utcnow

RUN_STATUSES = ("pending", "running", "done", "failed", "dead")
CLAIMABLE = ("pending", "running", "failed")
"""A run in these states has actions left (a ``running`` one: its worker died)."""


class Automation(Base):
    """A trigger, conditions (a ``SegmentFilter``) and ordered actions, stored
    as their GraphQL inputs' JSON (camelCase keys)."""

    __tablename__ = "automations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    trigger: Mapped[dict[str, object]] = mapped_column(JSON, nullable=False)
    conditions: Mapped[dict[str, object] | None] = mapped_column(JSON)
    actions: Mapped[list[dict[str, object]]] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    snapshot_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the segment snapshot (``automation_members``) was first taken:
    a segment trigger's first evaluation takes it and fires nothing."""
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )

    __table_args__ = (CheckConstraint("status IN ('active', 'paused')", name="status"),)


class AutomationRun(Base):
    """One customer's run of one automation for one occasion."""

    __tablename__ = "automation_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    automation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("automations.id", ondelete="CASCADE"), nullable=False
    )
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    occasion: Mapped[str] = mapped_column(String(255), nullable=False)
    trigger: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    outcomes: Mapped[list[dict[str, object]]] = mapped_column(
        JSON, nullable=False, default=list
    )
    """One entry per action done, in order: its kind, ``ok`` and its output."""
    error: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False
    )
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint(
            "automation_id",
            "customer_id",
            "occasion",
            name="uq_automation_runs_occasion",
        ),
        CheckConstraint(
            "status IN ('pending', 'running', 'done', 'failed', 'dead')",
            name="status",
        ),
        Index("ix_automation_runs_automation_id_status", "automation_id", "status"),
        Index("ix_automation_runs_customer_id_id", "customer_id", "id"),
    )


class AutomationMember(Base):
    """A segment trigger's snapshot: who was in the segment when its
    automation last looked (entered / exited are the differences)."""

    __tablename__ = "automation_members"

    automation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("automations.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
