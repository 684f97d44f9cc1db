"""Audience sync reads consent back from Klaviyo: how far each connection has
read Klaviyo's email suppressions (``audience_connections.opt_outs_read_to``).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audience_connections") as batch:
        batch.add_column(
            sa.Column("opt_outs_read_to", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("audience_connections") as batch:
        batch.drop_column("opt_outs_read_to")
