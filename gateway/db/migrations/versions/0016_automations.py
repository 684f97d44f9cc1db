"""Automations (``gateway.automations``): their definitions, their runs — one
per automation, customer and occasion (the unique key is the exactly-once
guard) — and the segment snapshots of segment triggers.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "automations",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("trigger", sa.JSON(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=True),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("snapshot_at", WHEN, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'paused')", name=op.f("ck_automations_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automations")),
        sa.UniqueConstraint("name", name=op.f("uq_automations_name")),
    )
    op.create_table(
        "automation_runs",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("automation_id", BIG_ID, nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=False),
        sa.Column("occasion", sa.String(length=255), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcomes", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("started_at", WHEN, nullable=True),
        sa.Column("finished_at", WHEN, nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done', 'failed', 'dead')",
            name=op.f("ck_automation_runs_status"),
        ),
        sa.ForeignKeyConstraint(
            ["automation_id"],
            ["automations.id"],
            name=op.f("fk_automation_runs_automation_id_automations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_automation_runs_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_runs")),
        sa.UniqueConstraint(
            "automation_id",
            "customer_id",
            "occasion",
            name="uq_automation_runs_occasion",
        ),
    )
    op.create_index(
        "ix_automation_runs_automation_id_status",
        "automation_runs",
        ["automation_id", "status"],
    )
    op.create_index(
        "ix_automation_runs_customer_id_id", "automation_runs", ["customer_id", "id"]
    )
    op.create_table(
        "automation_members",
        sa.Column("automation_id", BIG_ID, nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["automation_id"],
            ["automations.id"],
            name=op.f("fk_automation_members_automation_id_automations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_automation_members_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "automation_id", "customer_id", name=op.f("pk_automation_members")
        ),
    )


def downgrade() -> None:
    op.drop_table("automation_members")
    op.drop_index("ix_automation_runs_customer_id_id", table_name="automation_runs")
    op.drop_index(
        "ix_automation_runs_automation_id_status", table_name="automation_runs"
    )
    op.drop_table("automation_runs")
    op.drop_table("automations")
