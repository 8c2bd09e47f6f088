"""Build the routing layer from the configuration: hours, console hub, coordinator, webhooks."""

from __future__ import annotations

from urllib.parse import urlsplit

from clinicline.config import Config
from clinicline.errors import ConfigError
from clinicline.web.console.bus import ConsoleBus
from clinicline.web.console.hub import WebSocketHub
from integrations.store import Database
from routing.hours import BusinessHours
from routing.transfer import TransferCoordinator
from routing.webhooks import RetryPolicy, WebhookSender


def business_hours(config: Config) -> BusinessHours:
    """The clinic's hours: where transfers go when closed, and what the bot says about them."""
    return (
        BusinessHours.from_file(config.hours_file) if config.hours_file else BusinessHours.default()
    )


def build_routing(config: Config, db: Database) -> tuple[WebSocketHub, TransferCoordinator]:
    hours = business_hours(config)
    webhooks = None
    if config.webhook_urls:
        if not config.webhook_secret:
            raise ConfigError(
                "webhook_urls are set but webhook_secret is empty: receivers could not verify"
            )
        for index, url in enumerate(config.webhook_urls):
            parts = urlsplit(url)
            # Caught here, not at the first transfer: a bad URL would only dead-letter every
            # event. The URL is not echoed, as its query string may carry a receiver's token.
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(
                    f"webhook_urls[{index}] is not an http:// or https:// URL with a host"
                )
        webhooks = WebhookSender(
            list(config.webhook_urls),
            config.webhook_secret.encode(),
            config.data_dir / "webhooks-dead-letter.jsonl",
            policy=RetryPolicy(attempts=config.webhook_attempts),
            encrypt=db.cipher.encrypt,
        )
    # On PostgreSQL, consoles open on other app processes get their messages over the bus.
    hub = WebSocketHub(db, ConsoleBus.for_store(db))
    coordinator = TransferCoordinator(db, hub, hours=hours, webhooks=webhooks)
    hub.on_answer = coordinator.answer_from_elsewhere
    return hub, coordinator
