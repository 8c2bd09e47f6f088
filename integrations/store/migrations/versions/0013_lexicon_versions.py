"""Versions of a clinic's own red-flag words.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from integrations.store.types import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lexicon_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("edits", sa.JSON(), nullable=False),
        sa.Column("based_on", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("regression", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("published_by", sa.String(length=80), nullable=True),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["based_on"],
            ["lexicon_versions.id"],
            name=op.f("fk_lexicon_versions_based_on_lexicon_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lexicon_versions")),
        sa.UniqueConstraint("based_on", name=op.f("uq_lexicon_versions_based_on")),
    )
    with op.batch_alter_table("lexicon_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lexicon_versions_published_at"), ["published_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("lexicon_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lexicon_versions_published_at"))
    op.drop_table("lexicon_versions")
