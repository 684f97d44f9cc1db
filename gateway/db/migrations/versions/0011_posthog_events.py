"""The local mirror of PostHog's events (``posthog_events``) and the quiet
persons the live fallback found (``posthog_person_checks``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "posthog_events",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("distinct_id", sa.String(length=200), nullable=False),
        sa.Column("event", sa.String(length=400), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("session_id", sa.String(length=200), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "via IN ('destination', 'backfill')", name=op.f("ck_posthog_events_via")
        ),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_posthog_events")),
    )
    op.create_index(
        "ix_posthog_events_distinct_id_occurred_at",
        "posthog_events",
        ["distinct_id", "occurred_at", "uuid"],
    )
    op.create_table(
        "posthog_person_checks",
        sa.Column("distinct_id", sa.String(length=200), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("distinct_id", name=op.f("pk_posthog_person_checks")),
    )


def downgrade() -> None:
    op.drop_table("posthog_person_checks")
    op.drop_index(
        "ix_posthog_events_distinct_id_occurred_at", table_name="posthog_events"
    )
    op.drop_table("posthog_events")
