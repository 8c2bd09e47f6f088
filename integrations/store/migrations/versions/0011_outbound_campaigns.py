"""Outbound campaigns: campaigns, their targets and attempts, the do-not-call list; a call's
direction; a patient's own time zone for call windows.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from integrations.store.types import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("direction", sa.String(length=8), server_default="inbound", nullable=False)
        )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("window_start", sa.Time(), nullable=False),
        sa.Column("window_end", sa.Time(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("retry_minutes", sa.Integer(), nullable=False),
        sa.Column("pace_per_minute", sa.Integer(), nullable=False),
        sa.Column("voicemail_first_name", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'running', 'paused', 'done')", name=op.f("ck_campaigns_status")
        ),
        sa.CheckConstraint(
            "kind IN ('reminder', 'results_ready', 'post_discharge', 'provider_out')",
            name=op.f("ck_campaigns_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_table(
        "campaign_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'dialing', 'done')", name=op.f("ck_campaign_targets_status")
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"], ["appointments.id"],
            name=op.f("fk_campaign_targets_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"],
            name=op.f("fk_campaign_targets_campaign_id_campaigns"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_campaign_targets_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_targets")),
        sa.UniqueConstraint(
            "campaign_id", "patient_id", "appointment_id", name="uq_campaign_target"
        ),
    )  # fmt: skip
    op.create_index(
        op.f("ix_campaign_targets_campaign_id"), "campaign_targets", ["campaign_id"], unique=False
    )
    op.create_index(
        op.f("ix_campaign_targets_next_attempt_at"),
        "campaign_targets",
        ["next_attempt_at"],
        unique=False,
    )
    op.create_table(
        "campaign_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("started", UTCDateTime(), nullable=False),
        sa.Column("ended", UTCDateTime(), nullable=True),
        sa.Column("sip_status", sa.Integer(), nullable=True),
        sa.Column("result", sa.String(length=24), nullable=True),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("worker", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"],
            name=op.f("fk_campaign_attempts_campaign_id_campaigns"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["campaign_targets.id"],
            name=op.f("fk_campaign_attempts_target_id_campaign_targets"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_attempts")),
    )  # fmt: skip
    op.create_index(
        op.f("ix_campaign_attempts_started"), "campaign_attempts", ["started"], unique=False
    )
    op.create_index(
        op.f("ix_campaign_attempts_target_id"), "campaign_attempts", ["target_id"], unique=False
    )
    op.create_table(
        "do_not_call",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number_index", sa.String(length=32), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_do_not_call_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_do_not_call")),
    )
    op.create_index(
        op.f("ix_do_not_call_number_index"), "do_not_call", ["number_index"], unique=False
    )
    op.create_index(op.f("ix_do_not_call_patient_id"), "do_not_call", ["patient_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_do_not_call_patient_id"), table_name="do_not_call")
    op.drop_index(op.f("ix_do_not_call_number_index"), table_name="do_not_call")
    op.drop_table("do_not_call")
    op.drop_index(op.f("ix_campaign_attempts_target_id"), table_name="campaign_attempts")
    op.drop_index(op.f("ix_campaign_attempts_started"), table_name="campaign_attempts")
    op.drop_table("campaign_attempts")
    op.drop_index(op.f("ix_campaign_targets_next_attempt_at"), table_name="campaign_targets")
    op.drop_index(op.f("ix_campaign_targets_campaign_id"), table_name="campaign_targets")
    op.drop_table("campaign_targets")
    op.drop_table("campaigns")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("direction")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_column("time_zone")
