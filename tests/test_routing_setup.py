"""`build_routing`: the webhook settings of the configuration reach a working sender, or
start-up stops with a reason an operator can act on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from clinicline.config import load_config
from clinicline.errors import ConfigError
from clinicline.routing_setup import build_routing
from integrations.store import Database
from tests.demo_store import DATA_KEY


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", DATA_KEY)
    try:
        yield database
    finally:
        await database.dispose()


async def test_environment_webhook_settings_reach_the_sender(tmp_path: Path, db: Database) -> None:
    config = load_config(
        env={
            "CLINICLINE_DATA_DIR": str(tmp_path),
            "CLINICLINE_WEBHOOK_URLS": "http://127.0.0.1:9/a, https://crm.example/b?token=x",
            "CLINICLINE_WEBHOOK_SECRET": "s3cret",
        }
    )
    _, coordinator = build_routing(config, db)
    sender = coordinator.webhooks
    assert sender is not None
    assert sender.urls == ("http://127.0.0.1:9/a", "https://crm.example/b?token=x")
    assert sender.dead_letter_file == tmp_path / "webhooks-dead-letter.jsonl"


async def test_no_webhook_urls_means_no_sender(tmp_path: Path, db: Database) -> None:
    _, coordinator = build_routing(load_config(env={"CLINICLINE_DATA_DIR": str(tmp_path)}), db)
    assert coordinator.webhooks is None


async def test_webhook_urls_without_a_secret_stop_start_up(db: Database) -> None:
    config = load_config(env={"CLINICLINE_WEBHOOK_URLS": "http://127.0.0.1:9/a"})
    with pytest.raises(ConfigError, match="webhook_secret"):
        build_routing(config, db)


@pytest.mark.parametrize(
    "bad", ["127.0.0.1:9000/hook", "ftp://crm.example/hook", "http//crm.example?token=t0k3n"]
)
async def test_a_webhook_url_that_could_never_be_posted_to_stops_start_up(
    db: Database, bad: str
) -> None:
    config = load_config(
        env={
            "CLINICLINE_WEBHOOK_URLS": f"https://ok.example/hook,{bad}",
            "CLINICLINE_WEBHOOK_SECRET": "s3cret",
        }
    )
    with pytest.raises(ConfigError, match=r"webhook_urls\[1\]") as caught:
        build_routing(config, db)
    assert "t0k3n" not in str(caught.value)  # a receiver's token in the URL is not echoed


def test_an_unknown_transfer_mode_is_refused_with_the_choices() -> None:
    with pytest.raises(ConfigError, match="transfer_mode.*bridge, refer"):
        load_config(env={"CLINICLINE_TRANSFER_MODE": "teleport"})
    assert load_config(env={"CLINICLINE_TRANSFER_MODE": "refer"}).transfer_mode == "refer"
