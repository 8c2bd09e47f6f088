"""HL7 v2 SIU messages owed to the interface engine: the outbox and its dead letters.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from integrations.store.types import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hl7_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audit_event_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=4), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("replaces_id", sa.Integer(), nullable=True),
        sa.Column("control_id", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'dead')", name=op.f("ck_hl7_messages_status")
        ),
        sa.CheckConstraint(
            "trigger IN ('S12', 'S14', 'S15')", name=op.f("ck_hl7_messages_trigger")
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"], ["appointments.id"],
            name=op.f("fk_hl7_messages_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["audit_event_id"], ["audit_events.id"],
            name=op.f("fk_hl7_messages_audit_event_id_audit_events"),
        ),
        sa.ForeignKeyConstraint(
            ["replaces_id"], ["appointments.id"],
            name=op.f("fk_hl7_messages_replaces_id_appointments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hl7_messages")),
        sa.UniqueConstraint("audit_event_id", name=op.f("uq_hl7_messages_audit_event_id")),
        sa.UniqueConstraint("control_id", name=op.f("uq_hl7_messages_control_id")),
    )
    op.create_index(
        op.f("ix_hl7_messages_next_attempt_at"), "hl7_messages", ["next_attempt_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_hl7_messages_next_attempt_at"), table_name="hl7_messages")
    op.drop_table("hl7_messages")
