"""Every link keeps its explanation (``gateway.identity.rules.Explanation``):
the rule, its strength, the values compared, the source and when. Links made
before have none (``linked_by`` still names their rule).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identities") as batch_op:
        batch_op.add_column(sa.Column("explanation", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identities") as batch_op:
        batch_op.drop_column("explanation")
