"""Audience sync: which saved segment feeds which Klaviyo list
(``audience_connections``), and what was last sent for each customer
(``audience_members``: subscribed, removed or unsubscribed).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "audience_connections",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("segment_id", BIG_ID, nullable=False),
        sa.Column("list_id", sa.String(length=64), nullable=False),
        sa.Column("list_name", sa.String(length=255), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("synced_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_audience_connections_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audience_connections")),
        sa.UniqueConstraint(
            "segment_id", "list_id", name=op.f("uq_audience_connections_segment_id")
        ),
    )
    op.create_table(
        "audience_members",
        sa.Column("connection_id", BIG_ID, nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("synced_at", WHEN, nullable=False),
        sa.CheckConstraint(
            "state IN ('subscribed', 'removed', 'unsubscribed')",
            name=op.f("ck_audience_members_state"),
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["audience_connections.id"],
            name=op.f("fk_audience_members_connection_id_audience_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_audience_members_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "connection_id", "customer_id", name=op.f("pk_audience_members")
        ),
    )
    op.create_index(
        "ix_audience_members_connection_id_state",
        "audience_members",
        ["connection_id", "state"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_audience_members_connection_id_state", table_name="audience_members"
    )
    op.drop_table("audience_members")
    op.drop_table("audience_connections")
