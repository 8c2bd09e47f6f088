"""PHI columns encrypted at rest: patients' names and dates of birth, phone numbers (patients'
and callers'), medications, staff task notes; blind indexes for the two looked up by value.

Existing rows are encrypted in place with the store's data key; the blind-index key is made
here if the store has none (`Database.ensure_index_key`). SECURITY.md has the per-column
reasoning.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from integrations.store.crypto import Cipher, cipher_of_dialect
from integrations.store.database import ensure_index_key

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, type before): every column that becomes ciphertext.
ENCRYPTED: tuple[tuple[str, str, sa.types.TypeEngine[Any]], ...] = (
    ("patients", "first_name", sa.String(80)),
    ("patients", "last_name", sa.String(80)),
    ("patients", "dob", sa.Date()),
    ("patient_phones", "number", sa.String(32)),
    ("medications", "name", sa.String(120)),
    ("medications", "strength", sa.String(40)),
    ("staff_tasks", "note", sa.Text()),
    ("calls", "caller_number", sa.String(32)),
)


def _cipher() -> Cipher:
    conn = op.get_bind()
    cipher = cipher_of_dialect(conn.dialect)
    cipher.index_key = ensure_index_key(conn, cipher)
    return cipher


def _to_text(table: str, batch_op: Any) -> None:
    for _table, column, before in (e for e in ENCRYPTED if e[0] == table):
        using = f"{column}::text" if isinstance(before, sa.Date) else None
        batch_op.alter_column(column, type_=sa.Text(), existing_type=before,
                              postgresql_using=using)


def _from_text(table: str, batch_op: Any) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for _table, column, before in (e for e in ENCRYPTED if e[0] == table):
        if sqlite and isinstance(before, sa.Date):
            # SQLite's CAST(... AS DATE) keeps only the leading number ("1915"); a TEXT
            # column of ISO dates is what SQLAlchemy's Date reads and writes there anyway.
            continue
        using = f"{column}::date" if isinstance(before, sa.Date) else None
        batch_op.alter_column(column, type_=before, existing_type=sa.Text(),
                              postgresql_using=using)


def _rewrite(table: str, key: str, columns: list[str],
             change: Callable[[str, Any], Any], extra: Callable[[dict[str, Any]], dict[str, Any]]
             ) -> None:
    """Read every row's `columns`, write them back through `change` (plus `extra` columns)."""
    conn = op.get_bind()
    rows = conn.execute(sa.text(f"SELECT {key}, {', '.join(columns)} FROM {table}")).mappings()
    updates = []
    for row in list(rows):
        values = {c: change(c, row[c]) for c in columns}
        updates.append({"_key": row[key], **values, **extra(dict(row))})
    if updates:
        sets = ", ".join(f"{c} = :{c}" for c in updates[0] if c != "_key")
        conn.execute(sa.text(f"UPDATE {table} SET {sets} WHERE {key} = :_key"), updates)


def upgrade() -> None:
    cipher = _cipher()
    for table in ("patients", "patient_phones", "medications", "staff_tasks", "calls"):
        with op.batch_alter_table(table) as batch_op:
            if table == "patients":
                batch_op.drop_index("ix_patients_dob")
                batch_op.add_column(sa.Column("dob_index", sa.String(32), nullable=True))
            if table == "patient_phones":
                batch_op.drop_index("ix_patient_phones_number")
                batch_op.drop_constraint("uq_patient_phones_number", type_="unique")
                batch_op.add_column(sa.Column("number_index", sa.String(32), nullable=True))
            _to_text(table, batch_op)

    def seal(_column: str, value: Any) -> Any:
        return None if value is None else cipher.encrypt_text(str(value)).decode("ascii")

    _rewrite("patients", "id", ["first_name", "last_name", "dob"], seal,
             lambda row: {"dob_index": cipher.blind(str(row["dob"])[:10])})
    _rewrite("patient_phones", "id", ["number"], seal,
             lambda row: {"number_index": cipher.blind(str(row["number"]))})
    _rewrite("medications", "id", ["name", "strength"], seal, lambda row: {})
    _rewrite("staff_tasks", "id", ["note"], seal, lambda row: {})
    _rewrite("calls", "id", ["caller_number"], seal, lambda row: {})

    with op.batch_alter_table("patients") as batch_op:
        batch_op.alter_column("dob_index", existing_type=sa.String(32), nullable=False)
        batch_op.create_index("ix_patients_dob_index", ["dob_index"])
    with op.batch_alter_table("patient_phones") as batch_op:
        batch_op.alter_column("number_index", existing_type=sa.String(32), nullable=False)
        batch_op.create_index("ix_patient_phones_number_index", ["number_index"])
        batch_op.create_unique_constraint(
            "uq_patient_phones_number_index", ["patient_id", "number_index"]
        )


def downgrade() -> None:
    cipher = cipher_of_dialect(op.get_bind().dialect)

    def unseal(_column: str, value: Any) -> Any:
        return None if value is None else cipher.decrypt_text(str(value).encode("ascii"))

    _rewrite("patients", "id", ["first_name", "last_name", "dob"], unseal, lambda row: {})
    _rewrite("patient_phones", "id", ["number"], unseal, lambda row: {})
    _rewrite("medications", "id", ["name", "strength"], unseal, lambda row: {})
    _rewrite("staff_tasks", "id", ["note"], unseal, lambda row: {})
    _rewrite("calls", "id", ["caller_number"], unseal, lambda row: {})
    for table in ("patients", "patient_phones", "medications", "staff_tasks", "calls"):
        with op.batch_alter_table(table) as batch_op:
            if table == "patients":
                batch_op.drop_index("ix_patients_dob_index")
                batch_op.drop_column("dob_index")
                batch_op.create_index("ix_patients_dob", ["dob"])
            if table == "patient_phones":
                batch_op.drop_constraint("uq_patient_phones_number_index", type_="unique")
                batch_op.drop_index("ix_patient_phones_number_index")
                batch_op.drop_column("number_index")
                batch_op.create_index("ix_patient_phones_number", ["number"])
                batch_op.create_unique_constraint("uq_patient_phones_number",
                                                  ["patient_id", "number"])
            _from_text(table, batch_op)
