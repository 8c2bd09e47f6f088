"""Run and supervise the Rasa server (its own venv, its own process), restarting it if it dies.

Both directions are authenticated: we call Rasa with `api_token` (its HTTP API through
`--auth-token`, our REST channel through a bearer header), and Rasa calls our action endpoint
with `action_token` in a bearer header (endpoints.yml `headers`, which rasa.utils.endpoints
sends on every request). Both tokens reach the Rasa process only through its environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from pathlib import Path

import aiohttp

from dialogs.errors import DialogUnavailable
from dialogs.inside_rasa.launch import TOKEN_ENV
from dialogs.lifeline import die_with_parent
from dialogs.train import PROJECT_DIR, RASA_BIN, rasa_env

log = logging.getLogger(__name__)

START_TIMEOUT = 240.0  # ~45 s on an idle 2-core machine; much more when cores are shared
RESTART_DELAY = 2.0  # doubled after each quick crash, up to MAX_RESTART_DELAY
MAX_RESTART_DELAY = 60.0
# A Rasa that ran this long before exiting was not crash-looping: restart it promptly.
STABLE_AFTER = 120.0
ACTION_TOKEN_ENV = "CLINICLINE_ACTION_TOKEN"


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something already accepts connections on HOST:PORT (e.g. an orphaned Rasa)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def free_loopback_port() -> int:
    """A loopback TCP port nobody holds right now (for a Rasa started beside another)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_endpoints(
    path: Path, action_url: str, *, nlg_url: str | None = None, shared_trackers: bool = False
) -> Path:
    """Per-run endpoints file: Rasa calls the app's action endpoint on the right port, with the
    action token (Rasa substitutes `${VAR}` from its environment; the file holds no secret),
    and with `nlg_url` asks the same listener for the words of its own responses. With
    `shared_trackers`, conversations are kept encrypted in the store (its URL and key reach
    Rasa through the environment too)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    trackers = (
        "tracker_store:\n  type: dialogs.inside_rasa.tracker_store.EncryptedTrackerStore\n"
        if shared_trackers
        else ""
    )
    bearer = f"  headers:\n    Authorization: Bearer ${{{ACTION_TOKEN_ENV}}}\n"
    nlg = f'nlg:\n  url: "{nlg_url}"\n{bearer}' if nlg_url else ""
    path.write_text(
        f'action_endpoint:\n  url: "{action_url}"\n{bearer}{nlg}{trackers}', encoding="utf-8"
    )
    return path


class RasaServer:
    """`rasa run --enable-api --auth-token` as a supervised subprocess bound to loopback."""

    def __init__(
        self,
        model: Path,
        *,
        port: int,
        action_url: str,
        run_dir: Path,
        api_token: str,
        action_token: str,
        nlg_url: str | None = None,
        rasa_bin: Path = RASA_BIN,
        tracker_env: dict[str, str] | None = None,
    ) -> None:
        if not api_token or not action_token:
            raise ValueError("the Rasa server needs both its API token and the action token")
        self.model = model
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.run_dir = run_dir
        self.log_file = run_dir / "rasa.log"
        self.endpoints = write_endpoints(
            run_dir / "endpoints.yml", action_url, nlg_url=nlg_url,
            shared_trackers=bool(tracker_env),
        )  # fmt: skip
        self._rasa_bin = rasa_bin
        # The tokens, and the tracker store's URL and key when it has one.
        self._tokens = {TOKEN_ENV: api_token, ACTION_TOKEN_ENV: action_token, **(tracker_env or {})}
        self._process: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        self.restarts = 0
        self.crashes_in_a_row = 0
        # Why no Rasa of ours is running right now ("" while one is), for /health.
        self.waiting_reason = "starting"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    def _command(self) -> list[str]:
        # `rasa run` through our launcher, which adds --auth-token from the environment.
        return [
            str(self._rasa_bin.with_name("python")),
            "-m",
            "dialogs.inside_rasa.launch",
            "run",
            "--enable-api",
            "-i",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-m",
            str(self.model),
            "--endpoints",
            str(self.endpoints),
            "--credentials",
            str(PROJECT_DIR / "credentials.yml"),
        ]

    def _env(self) -> dict[str, str]:
        # Its two tokens, and the repository on its path for the channel and the launcher.
        return {**rasa_env(), **self._tokens, "PYTHONPATH": str(PROJECT_DIR.parent)}

    async def _spawn(self) -> bool:
        """Start Rasa unless its port is taken; its own process group, dying with us."""
        if port_in_use(self.port):
            self.waiting_reason = f"port {self.port} is held by another process"
            log.error("rasa not started: port %s is held by another process", self.port)
            return False
        self.run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self.log_file.open("ab") as out:
            self._process = await asyncio.create_subprocess_exec(
                *self._command(),
                cwd=self.run_dir,
                env=self._env(),
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        self.waiting_reason = ""
        log.info("rasa started", extra={"pid": self._process.pid, "port": self.port})
        return True

    async def start(self) -> None:
        """Start the process and its supervisor; returns at once (see `wait_ready`)."""
        self._stopping = False
        self._supervisor = asyncio.create_task(self._supervise())

    async def _supervise(self) -> None:
        """Keep one Rasa running; a crash loop backs off instead of spinning."""
        port_waits = 0  # tries that found the port held: Rasa never ran, so no crash of it
        while not self._stopping:
            started = time.monotonic()
            if await self._spawn():
                port_waits = 0
                assert self._process is not None
                code = await self._process.wait()
                if self._stopping:
                    return
                self.restarts += 1
                self.waiting_reason = f"Rasa exited with {code}; restarting"
                log.error("rasa exited; restarting", extra={"returncode": code})
                ran_for = time.monotonic() - started
                self.crashes_in_a_row = 0 if ran_for > STABLE_AFTER else self.crashes_in_a_row + 1
                tries = self.crashes_in_a_row
            else:
                port_waits += 1
                tries = port_waits
            await asyncio.sleep(min(MAX_RESTART_DELAY, RESTART_DELAY * 2 ** max(0, tries - 1)))

    async def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until /status reports a loaded model; raise DialogUnavailable on timeout."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while time.monotonic() < deadline:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
                    token = {"token": self._tokens[TOKEN_ENV]}
                    async with http.get(f"{self.base_url}/status", params=token) as response:
                        if response.status == 200 and (await response.json()).get("model_file"):
                            return
                await asyncio.sleep(1.0)
        raise DialogUnavailable(f"Rasa not ready after {timeout:.0f} s; see {self.log_file}")

    async def stop(self, grace: float = 10.0) -> None:
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        process = self._process
        if process is not None and process.returncode is None:
            # Rasa leads its own process group: whatever it started goes with it.
            _signal_group(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), grace)
            except TimeoutError:
                _signal_group(process.pid, signal.SIGKILL)
                await process.wait()
        log.info("rasa stopped", extra={"port": self.port})


def _signal_group(leader: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, sig)
