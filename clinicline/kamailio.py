"""Kamailio, as both of its uses here run it: the SIP front of `serve --workers N` and the
browser-phone gateway."""

from __future__ import annotations

import asyncio
from pathlib import Path

from clinicline.errors import StartupError

KAMAILIO = Path("/usr/sbin/kamailio")


async def check_kamailio_config(config_path: Path) -> None:
    """`kamailio -c`: a rendered config Kamailio would refuse stops the start-up with why."""
    check = await asyncio.create_subprocess_exec(
        str(KAMAILIO), "-c", "-f", str(config_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await check.communicate()
    if check.returncode != 0:
        raise StartupError(f"Kamailio refused {config_path.name}: {out.decode()[-1500:]}")
