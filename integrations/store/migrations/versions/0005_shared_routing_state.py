"""Routing and console state every process shares, which each lived in one process's memory
before: agent reservations and idle times, console sessions, context tokens, messages for
consoles open on other app processes, the hold line, and which worker holds each call.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from integrations.store.types import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch_op:
        batch_op.add_column(sa.Column("idle_since", UTCDateTime(), nullable=True))
    with op.batch_alter_table("calls") as batch_op:
        batch_op.add_column(sa.Column("worker", sa.String(length=80), nullable=True))
        batch_op.create_index(batch_op.f("ix_calls_worker"), ["worker"])
    op.create_table(
        "agent_reservations",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("reserved_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], ondelete="CASCADE",
            name=op.f("fk_agent_reservations_agent_id_agents"),
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_agent_reservations")),
    )
    op.create_index(
        op.f("ix_agent_reservations_call_id"), "agent_reservations", ["call_id"]
    )
    op.create_table(
        "console_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], ondelete="CASCADE",
            name=op.f("fk_console_sessions_agent_id_agents"),
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_console_sessions")),
    )
    op.create_index(op.f("ix_console_sessions_agent_id"), "console_sessions", ["agent_id"])
    op.create_index(op.f("ix_console_sessions_expires_at"), "console_sessions", ["expires_at"])
    op.create_table(
        "context_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("payload_enc", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("uses_left", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_context_tokens")),
    )
    op.create_index(op.f("ix_context_tokens_call_id"), "context_tokens", ["call_id"])
    op.create_index(op.f("ix_context_tokens_expires_at"), "context_tokens", ["expires_at"])
    op.create_table(
        "console_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=40), nullable=False),
        sa.Column("message_enc", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_messages")),
    )
    op.create_index(op.f("ix_console_messages_created_at"), "console_messages", ["created_at"])
    op.create_table(
        "hold_line",
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("queue", sa.String(length=40), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_hold_line")),
    )
    op.create_index(op.f("ix_hold_line_queue"), "hold_line", ["queue"])


def downgrade() -> None:
    op.drop_index(op.f("ix_hold_line_queue"), table_name="hold_line")
    op.drop_table("hold_line")
    op.drop_index(op.f("ix_console_messages_created_at"), table_name="console_messages")
    op.drop_table("console_messages")
    op.drop_index(op.f("ix_context_tokens_expires_at"), table_name="context_tokens")
    op.drop_index(op.f("ix_context_tokens_call_id"), table_name="context_tokens")
    op.drop_table("context_tokens")
    op.drop_index(op.f("ix_console_sessions_expires_at"), table_name="console_sessions")
    op.drop_index(op.f("ix_console_sessions_agent_id"), table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_index(op.f("ix_agent_reservations_call_id"), table_name="agent_reservations")
    op.drop_table("agent_reservations")
    with op.batch_alter_table("calls") as batch_op:
        batch_op.drop_index(batch_op.f("ix_calls_worker"))
        batch_op.drop_column("worker")
    with op.batch_alter_table("agents") as batch_op:
        batch_op.drop_column("idle_since")
