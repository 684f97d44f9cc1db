"""Insights: order and engagement facts, traits, RFM, saved segments, membership
events, and each category's replenishment interval (seeded from the demo catalog:
a 90-day face cream, 30 days of coffee; operators edit the table).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 23:00:30.221055
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
REPLENISHMENT = {"Skincare": 90, "Grocery": 30}


def upgrade() -> None:
    op.create_table(
        "category_replenishment",
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("category", name=op.f("pk_category_replenishment")),
    )
    op.create_table(
        "segments",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("filter", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("name", name=op.f("uq_segments_name")),
    )
    op.create_table(
        "customer_rfm",
        sa.Column("customer_id", BIG_ID, nullable=False),
        sa.Column("recency", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.Integer(), nullable=False),
        sa.Column("monetary", sa.Integer(), nullable=False),
        sa.Column("segment", sa.String(length=32), nullable=False),
        sa.Column("revenue", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_rfm_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_rfm")),
    )
    with op.batch_alter_table("customer_rfm", schema=None) as batch_op:
        batch_op.create_index("ix_customer_rfm_segment", ["segment"], unique=False)

    op.create_table(
        "customer_traits",
        sa.Column("customer_id", BIG_ID, nullable=False),
        sa.Column("lifetime_value", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("order_count", sa.Integer(), nullable=False),
        sa.Column(
            "average_order_value", sa.Numeric(precision=14, scale=2), nullable=True
        ),
        sa.Column("first_order_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_order_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("average_days_between_orders", sa.Float(), nullable=True),
        sa.Column(
            "favourite_category_by_quantity", sa.String(length=100), nullable=True
        ),
        sa.Column("favourite_category_by_spend", sa.String(length=100), nullable=True),
        sa.Column("categories", sa.String(length=2000), nullable=True),
        sa.Column("return_rate", sa.Float(), nullable=True),
        sa.Column("predicted_next_order_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("open_tickets", sa.Integer(), nullable=False),
        sa.Column("ticket_count", sa.Integer(), nullable=False),
        sa.Column("average_satisfaction", sa.Float(), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_traits_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_traits")),
    )
    with op.batch_alter_table("customer_traits", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customer_traits_lifetime_value", ["lifetime_value"], unique=False
        )
        batch_op.create_index(
            "ix_customer_traits_predicted_next_order_at",
            ["predicted_next_order_at"],
            unique=False,
        )

    op.create_table(
        "engagement_facts",
        sa.Column("customer_id", BIG_ID, nullable=False),
        sa.Column("open_tickets", sa.Integer(), nullable=False),
        sa.Column("ticket_count", sa.Integer(), nullable=False),
        sa.Column("good_ratings", sa.Integer(), nullable=False),
        sa.Column("bad_ratings", sa.Integer(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_engagement_facts_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_engagement_facts")),
    )
    op.create_table(
        "order_facts",
        sa.Column("order_id", sa.String(length=255), nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("refunded", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("returned", sa.Boolean(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_order_facts_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_facts")),
    )
    with op.batch_alter_table("order_facts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_order_facts_customer_id_processed_at",
            ["customer_id", "processed_at"],
            unique=False,
        )

    op.create_table(
        "segment_members",
        sa.Column("segment_id", BIG_ID, nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_segment_members_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_segment_members_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "segment_id", "customer_id", name=op.f("pk_segment_members")
        ),
    )
    with op.batch_alter_table("segment_members", schema=None) as batch_op:
        batch_op.create_index(
            "ix_segment_members_customer_id", ["customer_id"], unique=False
        )

    op.create_table(
        "segment_membership_events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=False),
        sa.Column("segment", sa.String(length=100), nullable=False),
        sa.Column("entered", sa.Boolean(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_segment_membership_events_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_membership_events")),
    )
    with op.batch_alter_table("segment_membership_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_segment_membership_events_customer_id_occurred_at",
            ["customer_id", "occurred_at"],
            unique=False,
        )

    op.create_table(
        "order_line_facts",
        sa.Column("order_id", sa.String(length=255), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("spend", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["order_facts.order_id"],
            name=op.f("fk_order_line_facts_order_id_order_facts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "order_id", "category", name=op.f("pk_order_line_facts")
        ),
    )
    with op.batch_alter_table("order_line_facts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_order_line_facts_category_customer_id",
            ["category", "customer_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_order_line_facts_customer_id_category",
            ["customer_id", "category"],
            unique=False,
        )
    op.bulk_insert(
        sa.table(
            "category_replenishment",
            sa.column("category", sa.String),
            sa.column("days", sa.Integer),
        ),
        [{"category": c, "days": d} for c, d in REPLENISHMENT.items()],
    )


def downgrade() -> None:
    with op.batch_alter_table("order_line_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_order_line_facts_customer_id_category")
        batch_op.drop_index("ix_order_line_facts_category_customer_id")

    op.drop_table("order_line_facts")
    with op.batch_alter_table("segment_membership_events", schema=None) as batch_op:
        batch_op.drop_index("ix_segment_membership_events_customer_id_occurred_at")

    op.drop_table("segment_membership_events")
    with op.batch_alter_table("segment_members", schema=None) as batch_op:
        batch_op.drop_index("ix_segment_members_customer_id")

    op.drop_table("segment_members")
    with op.batch_alter_table("order_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_order_facts_customer_id_processed_at")

    op.drop_table("order_facts")
    op.drop_table("engagement_facts")
    with op.batch_alter_table("customer_traits", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_traits_predicted_next_order_at")
        batch_op.drop_index("ix_customer_traits_lifetime_value")

    op.drop_table("customer_traits")
    with op.batch_alter_table("customer_rfm", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_rfm_segment")

    op.drop_table("customer_rfm")
    op.drop_table("segments")
    op.drop_table("category_replenishment")
