"""Timeline: the CRM history table ``customer_events`` and ``tasks``.

Existing notes are copied into ``customer_events`` so a customer's timeline
shows the notes written before this revision. On PostgreSQL the copy runs
after the new tables are committed: creating their foreign keys locks
``customers`` against writes until the transaction ends, and the copy takes
as long as the notes are many. Tables and indexes are made ``IF NOT EXISTS``
so that a copy that failed can run again.

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
COPY_NOTES = (
    "INSERT INTO customer_events "
    "(customer_id, kind, source, summary, actor, payload, occurred_at) "
    "SELECT customer_id, 'note_added', 'crm', substr(body, 1, 200), author, "
    "'{}', created_at FROM notes"
)


def upgrade() -> None:
    op.create_table(
        "customer_events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_events_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_events")),
        if_not_exists=True,
    )
    op.create_index(
        "ix_customer_events_customer_id_occurred_at",
        "customer_events",
        ["customer_id", "occurred_at", "id"],
        if_not_exists=True,
    )
    op.create_table(
        "tasks",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('open', 'done')", name=op.f("ck_tasks_status")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_tasks_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        if_not_exists=True,
    )
    op.create_index(
        "ix_tasks_customer_id_created_at",
        "tasks",
        ["customer_id", "created_at", "id"],
        if_not_exists=True,
    )
    if op.get_bind().dialect.name != "postgresql":
        op.execute(COPY_NOTES)
        return
    with op.get_context().autocommit_block():
        op.execute(COPY_NOTES)


def downgrade() -> None:
    op.drop_index("ix_tasks_customer_id_created_at", table_name="tasks")
    op.drop_table("tasks")
    op.drop_index(
        "ix_customer_events_customer_id_occurred_at", table_name="customer_events"
    )
    op.drop_table("customer_events")
