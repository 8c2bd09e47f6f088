"""Provider absences: the days a provider-out campaign declared, whose slots stay blocked.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from integrations.store.types import UTCDateTime

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provider_absences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("declared_by", sa.String(length=80), nullable=False),
        sa.Column("declared_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("first_day <= last_day", name=op.f("ck_provider_absences_days")),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_provider_absences_provider_id_providers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_absences")),
    )
    op.create_index(op.f("ix_provider_absences_provider_id"), "provider_absences", ["provider_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_provider_absences_provider_id"), table_name="provider_absences")
    op.drop_table("provider_absences")
