"""The browser-phone gateway in the store (every process's console relays to it), and how many
of an agent's consoles have a browser phone registered.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from integrations.store.types import UTCDateTime

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "softphone_gateways",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("sip", sa.String(length=80), nullable=False),
        sa.Column("websocket_url", sa.String(length=200), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),  # EncryptedText
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_softphone_gateways")),
    )
    op.add_column(
        "agents",
        sa.Column("browser_phone_tabs", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch_op:
        batch_op.drop_column("browser_phone_tabs")
    op.drop_table("softphone_gateways")
