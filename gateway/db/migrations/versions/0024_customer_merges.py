"""Merges of customers (``gateway.identity.merge``): a merged customer's row
stays, pointing at its survivor (``customers.merged_into``), so its id keeps
resolving and an unmerge gives it back; ``customer_merges`` holds each
merge's explanation and journal (what moved, what was set aside, the
survivor's fields before), so an unmerge restores both customers exactly.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch_op:
        batch_op.add_column(sa.Column("merged_into", BigId, nullable=True))
        batch_op.create_foreign_key(
            "fk_customers_merged_into", "customers", ["merged_into"], ["id"]
        )
        batch_op.create_index("ix_customers_merged_into", ["merged_into"])
    op.create_table(
        "customer_merges",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "survivor_id",
            BigId,
            sa.ForeignKey("customers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "merged_id",
            BigId,
            sa.ForeignKey("customers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("journal", sa.JSON(), nullable=False),
        sa.Column("merged_by", sa.String(200), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unmerged_by", sa.String(200), nullable=True),
        sa.Column("unmerged_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_customer_merges_merged_id", "customer_merges", ["merged_id"])
    op.create_index(
        "ix_customer_merges_survivor_id", "customer_merges", ["survivor_id"]
    )


def downgrade() -> None:
    op.drop_table("customer_merges")
    with op.batch_alter_table("customers") as batch_op:
        batch_op.drop_index("ix_customers_merged_into")
        batch_op.drop_constraint("fk_customers_merged_into", type_="foreignkey")
        batch_op.drop_column("merged_into")
