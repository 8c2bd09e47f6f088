"""Security state kept in the store: sign-in throttling shared by every app process, forced
password changes, the store's mode (demo or clinic), and a call's pending identity match.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from integrations.store.types import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("blocked_until", UTCDateTime(), nullable=True),
        sa.Column("last_failure", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sign_in_throttle")),
    )
    op.create_index(
        op.f("ix_sign_in_throttle_last_failure"), "sign_in_throttle", ["last_failure"]
    )
    op.create_table(
        "store_meta",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_store_meta")),
    )
    with op.batch_alter_table("agents") as batch_op:
        batch_op.add_column(
            sa.Column("must_change_password", sa.Boolean(), nullable=False,
                      server_default=sa.text("false"))
        )
    with op.batch_alter_table("calls") as batch_op:
        batch_op.add_column(sa.Column("pending_patient_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_calls_pending_patient_id_patients"), "patients",
            ["pending_patient_id"], ["id"],
        )
    _record_mode()


def _record_mode() -> None:
    """A store seeded by `seed --demo` holds the demo clinic (its MRNs start with DEMO); any
    other store with patients is a clinic's, where the sign-in refuses demo passwords."""
    conn = op.get_bind()
    demo = conn.scalar(sa.text("SELECT count(*) FROM patients WHERE mrn LIKE 'DEMO%'"))
    patients = conn.scalar(sa.text("SELECT count(*) FROM patients"))
    mode = "demo" if demo else "clinic" if patients else None
    if mode is not None:
        conn.execute(sa.text("INSERT INTO store_meta (name, value) VALUES ('mode', :m)"),
                     {"m": mode})


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch_op:
        batch_op.drop_constraint(op.f("fk_calls_pending_patient_id_patients"), type_="foreignkey")
        batch_op.drop_column("pending_patient_id")
    with op.batch_alter_table("agents") as batch_op:
        batch_op.drop_column("must_change_password")
    op.drop_table("store_meta")
    op.drop_index(op.f("ix_sign_in_throttle_last_failure"), table_name="sign_in_throttle")
    op.drop_table("sign_in_throttle")
