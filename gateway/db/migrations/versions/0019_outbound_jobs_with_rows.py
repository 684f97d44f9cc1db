"""Outbound deliveries are deferred in the transaction that writes them
(docs/webhooks-outbound.md): ``queued_at``, which found the deliveries
committed but never queued, has nothing left to find. On PostgreSQL, the
queued jobs by lock, which a deferral that skips a lock already queued
(``gateway.jobs.deferral``) looks up: procrastinate indexes the running ones
by lock, not the queued, and retries waiting for their time are queued.

The index is built concurrently, before the column goes: should it fail,
nothing of this revision is committed yet.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.db import online_ddl

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        online_ddl.create_index(
            "ix_procrastinate_jobs_queued_lock",
            "procrastinate_jobs",
            ["lock"],
            postgresql_where=sa.text("status = 'todo'"),
        )
    with op.batch_alter_table("outbound_deliveries") as batch_op:
        batch_op.drop_column("queued_at")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_procrastinate_jobs_queued_lock", "procrastinate_jobs")
    with op.batch_alter_table("outbound_deliveries") as batch_op:
        batch_op.add_column(
            sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True)
        )
