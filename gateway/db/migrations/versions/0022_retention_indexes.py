"""Retention (``gateway.retention``): each purged table's time column
indexed, so a purge batch finds its rows past the cutoff without a scan; and
outbound deliveries by message, which purging a message (and its foreign
key's cascade) looks up.

``IF NOT EXISTS``: an operator with large tables may build them beforehand
without blocking writes (``CREATE INDEX CONCURRENTLY``, docs/retention.md).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 13:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = "0004"  # audit_log (a branch of its own)

INDEXES = (
    ("ix_tracked_events_occurred_at", "tracked_events", "occurred_at"),
    ("ix_posthog_events_occurred_at", "posthog_events", "occurred_at"),
    ("ix_audit_log_at", "audit_log", "at"),
    ("ix_webhook_deliveries_received_at", "webhook_deliveries", "received_at"),
    ("ix_outbound_messages_created_at", "outbound_messages", "created_at"),
    ("ix_outbound_deliveries_message_id", "outbound_deliveries", "message_id"),
)


def upgrade() -> None:
    for name, table, column in INDEXES:
        op.create_index(name, table, [column], if_not_exists=True)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
