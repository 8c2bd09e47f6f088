"""Call turns may be spoken by a supervisor who joined the call (whisper or barge).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite cannot alter a CHECK constraint: batch mode rebuilds the table around the copy.
    with op.batch_alter_table("call_turns", recreate="always") as batch_op:
        batch_op.drop_constraint(op.f("ck_call_turns_speaker"), type_="check")
        batch_op.create_check_constraint(
            "speaker", "speaker IN ('caller', 'bot', 'agent', 'monitor')"
        )


def downgrade() -> None:
    op.execute("DELETE FROM call_turns WHERE speaker = 'monitor'")
    with op.batch_alter_table("call_turns", recreate="always") as batch_op:
        batch_op.drop_constraint(op.f("ck_call_turns_speaker"), type_="check")
        batch_op.create_check_constraint("speaker", "speaker IN ('caller', 'bot', 'agent')")
