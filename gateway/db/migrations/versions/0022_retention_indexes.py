"""Retention (``gateway.retention``): each purged table's time column
indexed, so a purge batch finds its rows past the cutoff without a scan; and
outbound deliveries by message, which purging a message (and its foreign
key's cascade) looks up.

Built concurrently on PostgreSQL (``gateway.db.online_ddl``): these tables
are the largest, and writes go on meanwhile. ``IF NOT EXISTS``: an operator
may still have built them beforehand (docs/retention.md).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 13:00:00
"""

from __future__ import annotations

from gateway.db import online_ddl

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
        online_ddl.create_index(name, table, [column], if_not_exists=True)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        online_ddl.drop_index(name, table)
