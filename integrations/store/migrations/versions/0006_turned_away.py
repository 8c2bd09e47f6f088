"""Callers turned away because every line was busy, counted for the supervisors' figures.

Rows carry no caller: when, how many, why, and which door refused them (the SIP front, or a
lone worker answering 486 itself). The SIP front (Kamailio) writes its own rows with one INSERT.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from integrations.store.types import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "turned_away",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("callers", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("door", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_turned_away")),
    )
    op.create_index(op.f("ix_turned_away_at"), "turned_away", ["at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_turned_away_at"), table_name="turned_away")
    op.drop_table("turned_away")
