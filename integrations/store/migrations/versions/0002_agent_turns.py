"""Call turns may be spoken by the agent too: the agent's side of a bridged call is transcribed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite cannot alter a CHECK constraint: batch mode rebuilds the table around the copy.
    with op.batch_alter_table("call_turns", recreate="always") as batch_op:
        batch_op.drop_constraint(op.f("ck_call_turns_speaker"), type_="check")
        batch_op.create_check_constraint("speaker", "speaker IN ('caller', 'bot', 'agent')")


def downgrade() -> None:
    op.execute("DELETE FROM call_turns WHERE speaker = 'agent'")
    with op.batch_alter_table("call_turns", recreate="always") as batch_op:
        batch_op.drop_constraint(op.f("ck_call_turns_speaker"), type_="check")
        batch_op.create_check_constraint("speaker", "speaker IN ('caller', 'bot')")
