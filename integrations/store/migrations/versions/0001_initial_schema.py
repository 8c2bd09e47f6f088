"""Initial schema: patients, providers, slots, appointments, medications, calls, staff, audit.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("sip_uri", sa.String(length=255), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("presence", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "presence IN ('offline', 'available', 'busy', 'away', 'wrap_up')",
            name=op.f("ck_agents_presence"),
        ),
        sa.CheckConstraint("role IN ('agent', 'nurse', 'supervisor')", name=op.f("ck_agents_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("username", name=op.f("uq_agents_username")),
    )
    op.create_table(
        "locations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("address", sa.String(length=240), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locations")),
        sa.UniqueConstraint("name", name=op.f("uq_locations_name")),
    )
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mrn", sa.String(length=32), nullable=True),
        sa.Column("first_name", sa.String(length=80), nullable=False),
        sa.Column("last_name", sa.String(length=80), nullable=False),
        sa.Column("dob", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=16), nullable=True),
        sa.Column("fhir_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("fhir_id", name=op.f("uq_patients_fhir_id")),
        sa.UniqueConstraint("mrn", name=op.f("uq_patients_mrn")),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patients_dob"), ["dob"], unique=False)

    op.create_table(
        "providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("specialty", sa.String(length=80), nullable=False),
        sa.Column("fhir_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
        sa.UniqueConstraint("fhir_id", name=op.f("uq_providers_fhir_id")),
    )
    op.create_table(
        "queues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queues")),
        sa.UniqueConstraint("name", name=op.f("uq_queues_name")),
    )
    op.create_table(
        "visit_types",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_types")),
        sa.UniqueConstraint("code", name=op.f("uq_visit_types_code")),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_audit_events_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_events_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "calls",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("caller_number", sa.String(length=32), nullable=True),
        sa.Column("started", sa.DateTime(), nullable=False),
        sa.Column("ended", sa.DateTime(), nullable=True),
        sa.Column("verified_patient_id", sa.Integer(), nullable=True),
        sa.Column("triage_level", sa.String(length=16), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("emergency_message_played", sa.Boolean(), nullable=False),
        sa.Column("transferred", sa.Boolean(), nullable=False),
        sa.Column("transfer_queue", sa.String(length=40), nullable=True),
        sa.Column("screen_pop_enc", sa.LargeBinary(), nullable=True),
        sa.Column("disposition", sa.String(length=40), nullable=True),
        sa.Column("recording_enc", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["verified_patient_id"],
            ["patients.id"],
            name=op.f("fk_calls_verified_patient_id_patients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calls_started"), ["started"], unique=False)

    op.create_table(
        "medications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("strength", sa.String(length=40), nullable=False),
        sa.Column("refills_left", sa.Integer(), nullable=False),
        sa.Column("controlled", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("fhir_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_medications_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medications")),
        sa.UniqueConstraint("fhir_id", name=op.f("uq_medications_fhir_id")),
    )
    with op.batch_alter_table("medications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_medications_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "patient_phones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_patient_phones_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_phones")),
        sa.UniqueConstraint("patient_id", "number", name="uq_patient_phones_number"),
    )
    with op.batch_alter_table("patient_phones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patient_phones_number"), ["number"], unique=False)

    op.create_table(
        "provider_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_provider_schedules_weekday")),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_provider_schedules_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_provider_schedules_provider_id_providers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_schedules")),
    )
    op.create_table(
        "slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("end", sa.DateTime(), nullable=False),
        sa.Column("visit_type_code", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.CheckConstraint("status IN ('free', 'booked', 'blocked')", name=op.f("ck_slots_status")),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_slots_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_slots_provider_id_providers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slots")),
        sa.UniqueConstraint("provider_id", "start", name="uq_slots_provider_start"),
    )
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slots_start"), ["start"], unique=False)

    op.create_table(
        "staff_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("queue", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'claimed', 'done')", name=op.f("ck_staff_tasks_status")
        ),
        sa.ForeignKeyConstraint(
            ["claimed_by"], ["agents.id"], name=op.f("fk_staff_tasks_claimed_by_agents")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_staff_tasks_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_tasks")),
    )
    with op.batch_alter_table("staff_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_tasks_call_id"), ["call_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_staff_tasks_queue"), ["queue"], unique=False)

    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("slot_id", sa.Integer(), nullable=True),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("end", sa.DateTime(), nullable=False),
        sa.Column("visit_type", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("booked_by_call_id", sa.String(length=64), nullable=True),
        sa.Column("changed_by_call_id", sa.String(length=64), nullable=True),
        sa.Column("rescheduled_to_id", sa.Integer(), nullable=True),
        sa.Column("fhir_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('booked', 'cancelled', 'rescheduled', 'fulfilled')",
            name=op.f("ck_appointments_status"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_appointments_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_appointments_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_appointments_provider_id_providers")
        ),
        sa.ForeignKeyConstraint(
            ["rescheduled_to_id"],
            ["appointments.id"],
            name=op.f("fk_appointments_rescheduled_to_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"], ["slots.id"], name=op.f("fk_appointments_slot_id_slots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
        sa.UniqueConstraint("fhir_id", name=op.f("uq_appointments_fhir_id")),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_appointments_booked_by_call_id"), ["booked_by_call_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_appointments_changed_by_call_id"), ["changed_by_call_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_appointments_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            "uq_appointments_live_slot",
            ["slot_id"],
            unique=True,
            sqlite_where=sa.text("status = 'booked'"),
            postgresql_where=sa.text("status = 'booked'"),
        )

    op.create_table(
        "call_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("data_enc", sa.LargeBinary(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_events_call_id_calls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_events")),
    )
    with op.batch_alter_table("call_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_events_call_id"), ["call_id"], unique=False)

    op.create_table(
        "call_turns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("speaker", sa.String(length=8), nullable=False),
        sa.Column("text_enc", sa.LargeBinary(), nullable=False),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("end", sa.DateTime(), nullable=False),
        sa.CheckConstraint("speaker IN ('caller', 'bot')", name=op.f("ck_call_turns_speaker")),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_turns_call_id_calls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_turns")),
    )
    with op.batch_alter_table("call_turns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_turns_call_id"), ["call_id"], unique=False)

    op.create_table(
        "refill_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("medication_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'needs_review', 'sent', 'denied', 'done')",
            name=op.f("ck_refill_requests_status"),
        ),
        sa.ForeignKeyConstraint(
            ["medication_id"],
            ["medications.id"],
            name=op.f("fk_refill_requests_medication_id_medications"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_refill_requests_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["staff_tasks.id"], name=op.f("fk_refill_requests_task_id_staff_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refill_requests")),
    )
    with op.batch_alter_table("refill_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refill_requests_call_id"), ["call_id"], unique=False)
        batch_op.create_index(
            "uq_refill_requests_open_medication",
            ["medication_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('open', 'needs_review')"),
            postgresql_where=sa.text("status IN ('open', 'needs_review')"),
        )


def downgrade() -> None:
    with op.batch_alter_table("refill_requests", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_refill_requests_open_medication",
            sqlite_where=sa.text("status IN ('open', 'needs_review')"),
            postgresql_where=sa.text("status IN ('open', 'needs_review')"),
        )
        batch_op.drop_index(batch_op.f("ix_refill_requests_call_id"))

    op.drop_table("refill_requests")
    with op.batch_alter_table("call_turns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_turns_call_id"))

    op.drop_table("call_turns")
    with op.batch_alter_table("call_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_events_call_id"))

    op.drop_table("call_events")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_appointments_live_slot",
            sqlite_where=sa.text("status = 'booked'"),
            postgresql_where=sa.text("status = 'booked'"),
        )
        batch_op.drop_index(batch_op.f("ix_appointments_patient_id"))
        batch_op.drop_index(batch_op.f("ix_appointments_changed_by_call_id"))
        batch_op.drop_index(batch_op.f("ix_appointments_booked_by_call_id"))

    op.drop_table("appointments")
    with op.batch_alter_table("staff_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_tasks_queue"))
        batch_op.drop_index(batch_op.f("ix_staff_tasks_call_id"))

    op.drop_table("staff_tasks")
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slots_start"))

    op.drop_table("slots")
    op.drop_table("provider_schedules")
    with op.batch_alter_table("patient_phones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_phones_number"))

    op.drop_table("patient_phones")
    with op.batch_alter_table("medications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_medications_patient_id"))

    op.drop_table("medications")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calls_started"))

    op.drop_table("calls")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_patient_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_at"))

    op.drop_table("audit_events")
    op.drop_table("visit_types")
    op.drop_table("queues")
    op.drop_table("providers")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patients_dob"))

    op.drop_table("patients")
    op.drop_table("locations")
    op.drop_table("agents")
