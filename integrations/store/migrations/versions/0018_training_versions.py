"""Versions of the clinic's own training phrasings, and the models trained from them.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from integrations.store.types import UTCDateTime

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "training_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("edits", sa.JSON(), nullable=False),
        sa.Column("based_on", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("model", sa.String(length=80), nullable=True),
        sa.Column("evaluation", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("published_by", sa.String(length=80), nullable=True),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["based_on"],
            ["training_versions.id"],
            name=op.f("fk_training_versions_based_on_training_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_versions")),
        sa.UniqueConstraint("based_on", name=op.f("uq_training_versions_based_on")),
    )
    with op.batch_alter_table("training_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_training_versions_published_at"), ["published_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("training_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_training_versions_published_at"))
    op.drop_table("training_versions")
