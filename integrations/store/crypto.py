"""Encryption at rest for PHI columns, transcripts, event data and recordings (Fernet,
AES-128-CBC + HMAC), and keyed blind indexes for the columns looked up by equality.

Key resolution, in order: the key passed to `Database.connect`; the environment variable
CLINICLINE_DATA_KEY; for a file-backed SQLite database, a key file next to it (`<db>.key`,
created with mode 0600 on first use); for an in-memory SQLite database, a key generated for
the life of the process. A PostgreSQL database without an explicit or environment key is
refused, because a key generated on one host would leave other hosts unable to read.
Several keys may be given comma-separated: the first encrypts, all decrypt (key rotation).

A Fernet token differs every time, so a value that must be found (a date of birth, a phone
number) also gets a blind index beside it: HMAC-SHA256 under a separate index key. That key
is random, kept in the store itself (`store_meta`) encrypted under the data key, so rotating
the data key never changes an index and the store holds nothing readable without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from integrations.errors import ConfigError, StoreError

KEY_ENV = "CLINICLINE_DATA_KEY"
_SESSION_KEY = "clinicline.cipher"


class Cipher:
    """Encrypts and decrypts small values for one database."""

    def __init__(self, keys: list[bytes]) -> None:
        self.index_key: bytes | None = None  # loaded from the store by `Database`
        if not keys:
            raise ConfigError("at least one data key is required")
        try:
            self._fernet = MultiFernet([Fernet(k) for k in keys])
        except ValueError as exc:
            raise ConfigError(
                "data key must be 32 url-safe base64-encoded bytes "
                "(generate one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)"
            ) from exc

    def encrypt(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise StoreError("stored data cannot be decrypted with the configured key") from exc

    def encrypt_text(self, text: str) -> bytes:
        return self.encrypt(text.encode("utf-8"))

    def decrypt_text(self, token: bytes) -> str:
        return self.decrypt(token).decode("utf-8")

    def encrypt_json(self, value: Any) -> bytes:
        return self.encrypt(json.dumps(value, separators=(",", ":"), default=str).encode())

    def decrypt_json(self, token: bytes) -> Any:
        return json.loads(self.decrypt(token))

    def blind(self, value: str) -> str:
        """The blind index of `value` (already normalised: an ISO date, an E.164 number)."""
        if self.index_key is None:
            raise ConfigError("the store's index key is not loaded; open sessions with "
                              "Database.session()")
        return hmac.new(self.index_key, value.encode(), hashlib.sha256).hexdigest()[:32]


_DIALECT_ATTR = "clinicline_cipher"


def secret_digest(secret: str) -> str:
    """How a bearer secret (a console session id, a context token) is kept in the store: its
    SHA-256, so a row is found by the secret and the table alone grants nothing. The secrets
    are 256 random bits, so no key or salt is needed."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def attach(dialect: Dialect, cipher: Cipher) -> None:
    """Let the encrypted column types of this engine find its cipher (one per engine)."""
    setattr(dialect, _DIALECT_ATTR, cipher)


def cipher_of_dialect(dialect: Dialect) -> Cipher:
    cipher = getattr(dialect, _DIALECT_ATTR, None)
    if not isinstance(cipher, Cipher):
        raise ConfigError("encrypted columns need an engine made by Database.connect()")
    return cipher


def _split_keys(raw: bytes) -> list[bytes]:
    return [k.strip() for k in raw.split(b",") if k.strip()]


def resolve_keys(url: str, explicit: bytes | None) -> list[bytes]:
    """Find the data key(s) for a database URL, following the order in the module docstring."""
    if explicit:
        return _split_keys(explicit)
    env = os.environ.get(KEY_ENV)
    if env:
        return _split_keys(env.encode())
    parsed = make_url(url)
    if not parsed.get_backend_name().startswith("sqlite"):
        raise ConfigError(
            f"no data key for {parsed.get_backend_name()}: pass encryption_key or set {KEY_ENV}"
        )
    database = parsed.database
    if not database or database == ":memory:":
        return [Fernet.generate_key()]
    return [_load_or_create_key_file(Path(database + ".key"))]


def _load_or_create_key_file(path: Path) -> bytes:
    if path.exists():
        keep_private(path)
        return path.read_bytes().strip()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # O_EXCL: two processes starting together must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def keep_private(path: Path) -> None:
    """Owner-only permissions on a file holding PHI or keys (a file copied in or created
    before this rule kept whatever the umask gave it)."""
    if path.exists() and path.stat().st_mode & 0o077:
        path.chmod(0o600)


def create_private(path: Path) -> None:
    """Create `path` empty and owner-only unless it exists; tighten it if it does."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        keep_private(path)


def session_info(cipher: Cipher) -> dict[str, Any]:
    """The `info` dict sessions are created with, so services can reach the cipher."""
    return {_SESSION_KEY: cipher}


def cipher_of(session: AsyncSession | Session) -> Cipher:
    """The cipher of the database this session belongs to."""
    cipher = session.info.get(_SESSION_KEY)
    if not isinstance(cipher, Cipher):
        raise ConfigError("session was not created by Database.session(); no data key available")
    return cipher
