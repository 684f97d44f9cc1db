"""Data subject requests that reach every source (``gateway.privacy``): a
request's status, who asked, an export's document, and a status per source
(``privacy_request_sources``). The payloads Shopify's compliance webhooks were
stored with (the person's email and phone) are dropped: a request keeps ids
only.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
IN_FLIGHT = "kind = 'erasure' AND status <> 'done'"


def upgrade() -> None:
    with op.batch_alter_table("privacy_requests") as batch:
        batch.add_column(
            sa.Column(
                "status", sa.String(length=16), nullable=False, server_default="done"
            )
        )
        batch.add_column(sa.Column("requested_by", sa.String(length=200)))
        batch.add_column(sa.Column("export", sa.JSON()))
        batch.drop_column("payload")
    op.execute(
        "UPDATE privacy_requests SET status = 'pending' WHERE completed_at IS NULL"
    )
    with op.batch_alter_table("privacy_requests") as batch:
        batch.alter_column("status", server_default=None)
        batch.create_check_constraint(
            "status", "status IN ('pending', 'done', 'failed')"
        )
    op.create_index(
        "uq_privacy_requests_erased_customer",
        "privacy_requests",
        ["customer_id"],
        unique=True,
        postgresql_where=sa.text(IN_FLIGHT),
        sqlite_where=sa.text(IN_FLIGHT),
    )
    op.create_table(
        "privacy_request_sources",
        sa.Column("request_id", BIG_ID, nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("external_ids", sa.JSON()),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=64)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'done', 'failed', 'not_linked')",
            name=op.f("ck_privacy_request_sources_status"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["privacy_requests.id"],
            name=op.f("fk_privacy_request_sources_request_id_privacy_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "request_id", "source", name=op.f("pk_privacy_request_sources")
        ),
    )


def downgrade() -> None:
    op.drop_table("privacy_request_sources")
    op.drop_index("uq_privacy_requests_erased_customer", "privacy_requests")
    with op.batch_alter_table("privacy_requests") as batch:
        batch.drop_constraint("status", type_="check")
        batch.drop_column("export")
        batch.drop_column("requested_by")
        batch.drop_column("status")
        batch.add_column(
            sa.Column("payload", sa.JSON(), nullable=False, server_default="{}")
        )
