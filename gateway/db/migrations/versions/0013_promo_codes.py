"""Promo codes: ``promo_codes``, one row per Shopify discount code made for a
customer (reserved before Shopify is asked, completed with the discount's gid),
one per automation run at most (``gateway.promotions``).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "promo_codes",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("discount_id", sa.String(length=255), nullable=True),
        sa.Column("percentage", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("collection_id", sa.String(length=255), nullable=False),
        sa.Column("starts_at", WHEN, nullable=False),
        sa.Column("ends_at", WHEN, nullable=False),
        sa.Column("automation_run_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_promo_codes_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promo_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_promo_codes_code")),
        sa.UniqueConstraint(
            "automation_run_id", name=op.f("uq_promo_codes_automation_run_id")
        ),
    )
    op.create_index(
        "ix_promo_codes_customer_id_created_at",
        "promo_codes",
        ["customer_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_promo_codes_customer_id_created_at", table_name="promo_codes")
    op.drop_table("promo_codes")
