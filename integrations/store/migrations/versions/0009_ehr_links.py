"""Links to an EHR: a mirrored slot's FHIR id and version, a refill request's FHIR Task.

With `--ehr fhir+http://…` the EHR is the source of truth (integrations/ehr): slots are mirrored
with the version a booking must match, and each refill request is sent as a FHIR Task; a null
`ehr_task_id` marks a request still waiting to be sent.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fhir_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("fhir_version", sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint("uq_slots_fhir_id", ["fhir_id"])
    with op.batch_alter_table("refill_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ehr_task_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("refill_requests", schema=None) as batch_op:
        batch_op.drop_column("ehr_task_id")
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.drop_constraint("uq_slots_fhir_id", type_="unique")
        batch_op.drop_column("fhir_version")
        batch_op.drop_column("fhir_id")
