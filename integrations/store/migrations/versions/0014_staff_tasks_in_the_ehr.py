"""A staff task's FHIR Task in the EHR (callbacks and what the caller asked, sent by the outbox).

A null `ehr_task_id` on a task for a patient the EHR has marks one still waiting to be sent.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ehr_task_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff_tasks", schema=None) as batch_op:
        batch_op.drop_column("ehr_task_id")
