"""Column types that behave the same on SQLite and PostgreSQL, encrypted ones included."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import DateTime, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from integrations.store.crypto import cipher_of_dialect


class UTCDateTime(TypeDecorator[datetime]):
    """An instant: stored as naive UTC, returned timezone-aware (UTC).

    SQLite drops offsets and asyncpg refuses aware values for naive columns, so instants are
    normalised here once. A naive value passed in is taken to be UTC already.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Opaque(TypeDecorator.Comparator[Any]):  # type: ignore[type-arg]
    """An encrypted column is never compared or sorted in SQL: its ciphertext differs each
    time. Look such a value up through its blind index column; sort in Python."""

    def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
        raise TypeError(f"encrypted column {self.expr}: use its blind index, not {op.__name__}")

    def reverse_operate(self, op: Any, other: Any, **kwargs: Any) -> Any:
        raise TypeError(f"encrypted column {self.expr}: use its blind index, not {op.__name__}")


class EncryptedText(TypeDecorator[str]):
    """Text stored as a Fernet token (see `crypto.py`); reads give the text back."""

    impl = Text
    cache_ok = True
    comparator_factory = _Opaque

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return cipher_of_dialect(dialect).encrypt_text(value).decode("ascii")

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return cipher_of_dialect(dialect).decrypt_text(str(value).encode("ascii"))


class EncryptedDate(TypeDecorator[date]):
    """A date stored as the Fernet token of its ISO form."""

    impl = Text
    cache_ok = True
    comparator_factory = _Opaque

    def process_bind_param(self, value: date | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return cipher_of_dialect(dialect).encrypt_text(value.isoformat()).decode("ascii")

    def process_result_value(self, value: Any, dialect: Dialect) -> date | None:
        if value is None:
            return None
        text = cipher_of_dialect(dialect).decrypt_text(str(value).encode("ascii"))
        return date.fromisoformat(text)
