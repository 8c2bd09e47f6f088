"""The store URLs operators write: plain `sqlite:///` and `postgresql://` pick the async driver."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from clinicline.config import Config
from clinicline.errors import ConfigError
from clinicline.harness import ROOT
from integrations.errors import ConfigError as StoreConfigError
from integrations.store.urls import store_url


@pytest.mark.parametrize(
    ("written", "used"),
    [
        ("sqlite:///var/clinic.db", "sqlite+aiosqlite:///var/clinic.db"),
        ("sqlite:////srv/clinic.db", "sqlite+aiosqlite:////srv/clinic.db"),
        ("sqlite+aiosqlite:///var/clinic.db", "sqlite+aiosqlite:///var/clinic.db"),
        ("postgresql://cl:pw@db.local:5432/clinic", "postgresql+asyncpg://cl:pw@db.local:5432/clinic"),
        ("postgres://cl@db.local/clinic", "postgresql+asyncpg://cl@db.local/clinic"),
        ("postgresql+psycopg2://cl@db.local/clinic", "postgresql+asyncpg://cl@db.local/clinic"),
        ("postgresql://cl:p%40ss@db.local/clinic", "postgresql+asyncpg://cl:p%40ss@db.local/clinic"),
    ],
)
def test_written_urls_get_the_async_driver(written: str, used: str) -> None:
    assert store_url(written) == used
    assert Config(db=written).db == used


@pytest.mark.parametrize("bad", ["mysql://cl@db/clinic", "clinic.db", ""])
def test_other_urls_are_a_clear_config_error(bad: str) -> None:
    with pytest.raises(StoreConfigError):
        store_url(bad)
    with pytest.raises(ConfigError, match="setting db"):
        Config(db=bad)


def test_the_cli_takes_a_plain_sqlite_url(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/clinic.db"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "clinicline.cli", *args, "--db", db],
            capture_output=True, text=True, cwd=ROOT, check=False, timeout=120,
        )

    seeded = cli("seed", "--demo")
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    assert (tmp_path / "clinic.db").stat().st_size > 0
    last = cli("calls", "last", "--json")
    # The same file is read back: the seeded store, with no call in it yet.
    assert last.returncode == 1 and "no calls recorded yet" in last.stderr, last.stderr[-2000:]
