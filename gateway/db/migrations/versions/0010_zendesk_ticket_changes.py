"""Zendesk ticket changes webhooks announced, read past the lagging search index.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "zendesk_ticket_changes",
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("requester_id", sa.String(length=32), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_zendesk_ticket_changes")),
    )
    op.create_index(
        "ix_zendesk_ticket_changes_requester_id_changed_at",
        "zendesk_ticket_changes",
        ["requester_id", "changed_at"],
    )
    op.create_index(
        "ix_zendesk_ticket_changes_changed_at",
        "zendesk_ticket_changes",
        ["changed_at"],
    )


def downgrade() -> None:
    op.drop_table("zendesk_ticket_changes")
