"""Per-product replenishment and the facts of relative segment rules: order
lines by product (``order_item_facts``), the product catalogue (``products``,
with the operator's interval per product), intervals learned from repeat
purchases (``learned_intervals``), abandoned checkouts (``checkout_facts``),
and an index of web events by name and time (``viewedProduct``). Each
customer's run-out dates are computed from these when read.

The new fact tables start empty: ``customer-graph insights sync-orders`` fills
them from the store, then ``customer-graph insights refresh`` learns the
intervals.

The index on ``tracked_events`` (a large table) is built concurrently, first:
should it fail, nothing else of this revision is committed yet.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.db import online_ddl

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    online_ddl.create_index(
        "ix_tracked_events_name_occurred_at", "tracked_events", ["name", "occurred_at"]
    )
    op.create_table(
        "order_item_facts",
        sa.Column("order_id", sa.String(length=255), nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=False),
        sa.Column("processed_at", WHEN, nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["order_facts.order_id"],
            name=op.f("fk_order_item_facts_order_id_order_facts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", "sku", name=op.f("pk_order_item_facts")),
    )
    op.create_index(
        "ix_order_item_facts_customer_id_sku_processed_at",
        "order_item_facts",
        ["customer_id", "sku", "processed_at"],
        postgresql_include=["quantity"],
    )
    op.create_index(
        "ix_order_item_facts_sku_customer_id_processed_at",
        "order_item_facts",
        ["sku", "customer_id", "processed_at"],
        postgresql_include=["quantity"],
    )
    op.create_table(
        "checkout_facts",
        sa.Column("checkout_id", sa.String(length=255), nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("completed_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_checkout_facts_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("checkout_id", name=op.f("pk_checkout_facts")),
    )
    op.create_index(
        "ix_checkout_facts_customer_id_created_at",
        "checkout_facts",
        ["customer_id", "created_at"],
    )
    op.create_table(
        "products",
        sa.Column("sku", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("override_days", sa.Integer(), nullable=True),
        sa.CheckConstraint("override_days > 0", name=op.f("ck_products_override_days")),
        sa.PrimaryKeyConstraint("sku", name=op.f("pk_products")),
    )
    op.create_index("ix_products_category", "products", ["category"])
    op.create_table(
        "learned_intervals",
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("days", sa.Float(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("computed_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("level", "key", name=op.f("pk_learned_intervals")),
    )


def downgrade() -> None:
    op.drop_index("ix_tracked_events_name_occurred_at", table_name="tracked_events")
    op.drop_table("learned_intervals")
    op.drop_table("products")
    op.drop_table("checkout_facts")
    op.drop_table("order_item_facts")
