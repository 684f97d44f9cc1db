"""Outbound deliveries are deferred in the transaction that writes them
(docs/webhooks-outbound.md): ``queued_at``, which found the deliveries
committed but never queued, has nothing left to find.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbound_deliveries") as batch_op:
        batch_op.drop_column("queued_at")


def downgrade() -> None:
    with op.batch_alter_table("outbound_deliveries") as batch_op:
        batch_op.add_column(
            sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True)
        )
