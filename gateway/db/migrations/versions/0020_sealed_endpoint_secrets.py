"""Outbound endpoints' signing secrets stored sealed (``gateway.sealing``:
Fernet under a key derived from ``CG_SECRET_KEY``): the columns widen to
hold a token, and the secrets stored in the clear are sealed — with the
``CG_SECRET_KEY`` of the environment running the upgrade, the one the
gateway then runs with.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 11:30:00
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from gateway.sealing import Sealer
from gateway.settings import Settings

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

CLEAR = "whsec_"
"""How a secret stored in the clear begins (``gateway.outbound.signing``)."""


def _rewrite(change: Callable[[str], str]) -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, secret, previous_secret FROM outbound_endpoints")
    ).all()
    for endpoint_id, secret, previous in rows:
        bind.execute(
            sa.text(
                "UPDATE outbound_endpoints SET secret = :s, previous_secret = :p"
                " WHERE id = :i"
            ),
            {
                "i": endpoint_id,
                "s": change(secret),
                "p": change(previous) if previous else previous,
            },
        )


def _columns(length: int, was: int) -> None:
    with op.batch_alter_table("outbound_endpoints") as batch_op:
        batch_op.alter_column(
            "secret",
            type_=sa.String(length),
            existing_type=sa.String(was),
            existing_nullable=False,
        )
        batch_op.alter_column(
            "previous_secret",
            type_=sa.String(length),
            existing_type=sa.String(was),
            existing_nullable=True,
        )


def upgrade() -> None:
    _columns(255, 100)
    sealer = Sealer.of(Settings())
    _rewrite(lambda s: sealer.seal(s) if s.startswith(CLEAR) else s)


def downgrade() -> None:
    sealer = Sealer.of(Settings())
    _rewrite(lambda s: s if s.startswith(CLEAR) else sealer.unseal(s))
    _columns(100, 255)
