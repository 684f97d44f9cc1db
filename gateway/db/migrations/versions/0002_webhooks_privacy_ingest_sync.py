"""Webhook deliveries (dedup), privacy requests, ingested events, sync state.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 22:41:49.608562
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "privacy_requests",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("external_customer_id", sa.String(length=255), nullable=True),
        sa.Column("customer_id", BIG_ID, nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
    )
    op.create_table(
        "sync_state",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("cursor", sa.String(length=500), nullable=True),
        sa.Column("synced_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_sync_state")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("delivery_id", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "source", "delivery_id", name="uq_webhook_deliveries_source_delivery"
        ),
    )
    op.create_table(
        "tracked_events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=True),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("anonymous_id", sa.String(length=255), nullable=True),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_tracked_events_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracked_events")),
        sa.UniqueConstraint("message_id", name=op.f("uq_tracked_events_message_id")),
    )
    with op.batch_alter_table("tracked_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tracked_events_anonymous_id", ["anonymous_id"], unique=False
        )
        batch_op.create_index(
            "ix_tracked_events_customer_id_occurred_at",
            ["customer_id", "occurred_at", "id"],
            unique=False,
        )
        batch_op.create_index("ix_tracked_events_user_id", ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tracked_events", schema=None) as batch_op:
        batch_op.drop_index("ix_tracked_events_user_id")
        batch_op.drop_index("ix_tracked_events_customer_id_occurred_at")
        batch_op.drop_index("ix_tracked_events_anonymous_id")

    op.drop_table("tracked_events")
    op.drop_table("webhook_deliveries")
    op.drop_table("sync_state")
    op.drop_table("privacy_requests")
