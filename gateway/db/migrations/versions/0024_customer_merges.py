"""Merges of customers (``gateway.identity.merge``): a merged customer's row
stays, pointing at its survivor (``customers.merged_into``), so its id keeps
resolving and an unmerge gives it back; ``customer_merges`` holds each
merge's explanation and journal (what moved, what was set aside, the
survivor's fields before), so an unmerge restores both customers exactly.

On PostgreSQL ``customers`` (a large table) is changed in steps that each
hold a write-blocking lock only for a moment (``gateway.db.online_ddl``),
outside this revision's transaction and each safe to run again: the nullable
column (no rewrite), its index built concurrently, the foreign key added
``NOT VALID`` and then validated, which scans under a lock writes pass.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.db import online_ddl

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _merged_into_online()
    else:
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


def _merged_into_online() -> None:
    with op.get_context().autocommit_block():
        op.add_column(
            "customers",
            sa.Column("merged_into", BigId, nullable=True),
            if_not_exists=True,
        )
    online_ddl.create_index("ix_customers_merged_into", "customers", ["merged_into"])
    bind = op.get_bind()
    with op.get_context().autocommit_block():
        exists = bind.scalar(
            sa.text(
                "SELECT 1 FROM pg_constraint WHERE conname = 'fk_customers_merged_into'"
            )
        )
        if not exists:
            op.create_foreign_key(
                "fk_customers_merged_into",
                "customers",
                "customers",
                ["merged_into"],
                ["id"],
                postgresql_not_valid=True,
            )
        op.execute("ALTER TABLE customers VALIDATE CONSTRAINT fk_customers_merged_into")


def downgrade() -> None:
    op.drop_table("customer_merges")
    with op.batch_alter_table("customers") as batch_op:
        batch_op.drop_index("ix_customers_merged_into")
        batch_op.drop_constraint("fk_customers_merged_into", type_="foreignkey")
        batch_op.drop_column("merged_into")
