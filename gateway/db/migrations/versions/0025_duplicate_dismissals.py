"""A data steward's decision that two suggested customers are not one
person (``dismissDuplicate``): the pair is not suggested again. Gone with
either customer.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "duplicate_dismissals",
        sa.Column(
            "first_id",
            BigId,
            sa.ForeignKey("customers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "second_id",
            BigId,
            sa.ForeignKey("customers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("dismissed_by", sa.String(200), nullable=False),
        sa.Column("dismissed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "first_id < second_id", name=op.f("ck_duplicate_dismissals_order")
        ),
    )
    op.create_index(
        "ix_duplicate_dismissals_second_id", "duplicate_dismissals", ["second_id"]
    )


def downgrade() -> None:
    op.drop_table("duplicate_dismissals")
