"""`clinicline staff add|reset`: staff accounts with a one-time password, printed once.

The one-time password opens nothing but the console's "choose your password" form: the
account is marked `must_change_password` until its owner has chosen their own. This is how
a clinic's first administrator gets in (demo passwords never exist outside the demo store).
"""

from __future__ import annotations

import json
import secrets

from clinicline.config import Config
from clinicline.errors import ConfigError
from integrations.errors import InvalidField
from integrations.passwords import hash_password
from integrations.services.agents import add_agent, agent_by_username, set_password_hash
from integrations.store import Database


def one_time_password() -> str:
    return secrets.token_urlsafe(12)


async def add_staff(
    config: Config,
    username: str,
    name: str,
    role: str,
    skills: tuple[str, ...],
    sip_uri: str,
    *,
    may_publish: bool = False,
) -> int:
    password = one_time_password()
    db = await Database.connect(config.db)
    try:
        await db.migrate()
        async with db.session() as s:
            agent = await add_agent(s, username=username, name=name or username, role=role,
                                    password_hash=hash_password(password), skills=skills,
                                    sip_uri=sip_uri, may_publish=may_publish)
    except InvalidField as exc:
        raise ConfigError(str(exc)) from exc
    finally:
        await db.dispose()
    print(json.dumps({"username": agent.username, "role": agent.role, "may_publish": may_publish,
                      "one_time_password": password,
                      "note": "valid only to choose a new password at first sign-in"}))
    return 0


async def reset_password(config: Config, username: str) -> int:
    password = one_time_password()
    db = await Database.connect(config.db)
    try:
        await db.migrate()
        async with db.session() as s:
            agent = await agent_by_username(s, username)
            if agent is None:
                raise ConfigError(f"no staff account {username!r}")
            await set_password_hash(s, agent.agent_id, hash_password(password), must_change=True)
    finally:
        await db.dispose()
    print(json.dumps({"username": username, "one_time_password": password,
                      "note": "valid only to choose a new password at next sign-in"}))
    return 0
