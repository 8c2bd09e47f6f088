"""Two sites behind one SIP front and an app process, sharing one PostgreSQL: the deployment
over several machines, played on this one with a loopback address per machine.

The front (`serve --workers 0`: Kamailio alone) listens on 127.0.0.1; site A runs a worker and
its console on 127.0.0.2, site B on 127.0.0.3 (`serve --workers 1 --join 127.0.0.1:PORT`).
The front knows the sites' workers only from what they announce in the store. An app process
(`serve --app-only`: consoles and routing, no calls) serves consoles at site A's address on a
port of its own, as a second process behind the clinic's console address would. Real
processes, real SIP calls through Kamailio, real phones for the caller and the staff; Rasa is
off (the red-flag path and the keypad menu do not need it).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from clinicline.harness import (
    ROOT,
    ServerProcess,
    free_port,
    phone_call,
    stop_process,
    wait_for_record,
)
from tests.callflow.console_agent import open_console, sign_in_at_console
from tests.integrations.conftest import PG_URL
from tests.staff_lines import STAFF_PORT, always_open_hours, answer_log, staff_phone
from tests.test_cluster import _database

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "clinicline.cli"]
STARTUP_SECONDS = 240
SITE_ADDRESSES = {"A": "127.0.0.2", "B": "127.0.0.3"}


@dataclass
class Site:
    name: str
    host: str
    sip_port: int
    http_port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def console(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def worker(self) -> str:
        """The worker's name on the calls it holds."""
        return f"{socket.gethostname()[:40]}/{self.host}:{self.sip_port}"

    def ready(self) -> bool:
        return _ready(self.console)


def _ready(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=3) as response:
            return bool(json.loads(response.read()).get("status") == "ready")
    except OSError:
        return False


@dataclass
class AppProcess:
    console: str
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Deployment:
    front: ServerProcess  # the clinic's number: Kamailio on 127.0.0.1
    sites: dict[str, Site]
    ctl_socket: Path
    app: AppProcess

    def rotation(self) -> str:
        """Kamailio's own list of workers, as its control socket gives it."""
        return subprocess.run(
            ["/usr/sbin/kamcmd", "-s", f"unix:{self.ctl_socket}", "dispatcher.list"],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout  # fmt: skip

    def site_of(self, worker: str | None) -> str | None:
        return next((s.name for s in self.sites.values() if s.worker == worker), None)


def _tail(log: Path, chars: int = 2500) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else "(no log)"


def _startup_report(running: Deployment) -> str:
    """What each part of a deployment that did not come up in time was doing: who is ready,
    what the workers announced in the store, Kamailio's list, and the logs' last lines."""

    async def announced() -> list[tuple[Any, ...]]:
        engine = create_async_engine(running.front.db_url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    text("SELECT name, role, state, sip_address, seen_at FROM processes")
                )
                return [tuple(row) for row in rows]
        finally:
            await engine.dispose()

    parts = [f"ready: {[(s.name, s.ready()) for s in running.sites.values()]}, "
             f"app {_ready(running.app.console)}",
             f"processes: {asyncio.run(announced())}",
             f"Kamailio's list: {running.rotation()}",
             f"front: {_tail(running.front.log_path)}",
             f"kamailio: {_tail(running.ctl_socket.parent / 'kamailio.log', 1500)}"]  # fmt: skip
    parts += [f"site {s.name}: {_tail(s.log)}" for s in running.sites.values()]
    return "\n\n".join(parts)


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [*CLI, "serve", *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, speech_data_dir: Path
) -> Iterator[Deployment]:
    name = f"clinicline_sites_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_database("CREATE", name))
    except OSError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    work = tmp_path_factory.mktemp("two-sites")
    db_url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    env = {
        **os.environ,
        "CLINICLINE_DATA_KEY": Fernet.generate_key().decode(),  # one key for every machine
        "CLINICLINE_HOURS_FILE": str(always_open_hours()),
        "CLINICLINE_RING_TIMEOUT": "10",
        "CLINICLINE_MAX_HOLD_SECONDS": "120",
        # Callers holding a slot in silence are not sent away while a slow machine starts
        # the next phone.
        "CLINICLINE_SILENCE_TIMEOUT": "60",
    }
    processes: list[subprocess.Popen[bytes]] = []
    try:
        seeded = subprocess.run(
            [*CLI, "seed", "--demo", "--db", db_url, "--staff-port", str(STAFF_PORT)],
            cwd=ROOT, env={**env, "CLINICLINE_DATA_DIR": str(work / "front")},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert seeded.returncode == 0, seeded.stderr[-2000:]
        front_port = free_port(socket.SOCK_DGRAM)
        front_env = {**env, "CLINICLINE_DATA_DIR": str(work / "front")}
        front_log = work / "front.log"
        front = _start(
            ["--workers", "0", "--sip", f"127.0.0.1:{front_port}", "--db", db_url],
            front_env, front_log,
        )  # fmt: skip
        processes.append(front)
        sites: dict[str, Site] = {}
        for site, host in SITE_ADDRESSES.items():
            sip, http = free_port(socket.SOCK_DGRAM), free_port()
            log = work / f"site-{site}.log"
            started = _start(
                ["--workers", "1", "--no-rasa", "--join", f"127.0.0.1:{front_port}",
                 "--sip", f"{host}:{sip}", "--http", f"{host}:{http}",
                 "--rasa-port", str(free_port()), "--db", db_url],
                # The session's rendered prompts: both sites speak with them.
                {**env, "CLINICLINE_DATA_DIR": str(speech_data_dir)}, log,
            )  # fmt: skip
            processes.append(started)
            sites[site] = Site(site, host, sip, http, started, log)
        app_console = f"http://{SITE_ADDRESSES['A']}:{free_port()}"
        app_log = work / "app.log"
        app = _start(
            ["--app-only", "--http", app_console.removeprefix("http://"), "--db", db_url],
            {**env, "CLINICLINE_DATA_DIR": str(work / "app")}, app_log,
        )  # fmt: skip
        processes.append(app)
        running = Deployment(
            ServerProcess(front_port, 0, db_url, work / "front", front, front_log, front_env),
            sites,
            work / "front" / "kamailio" / "kamailio.ctl",
            AppProcess(app_console, app, app_log),
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        # Ready, and each site's worker in Kamailio's rotation (announced, then probed).
        while not (
            all(s.ready() for s in sites.values())
            and _ready(app_console)
            and running.rotation().count("FLAGS: AP") == len(sites)
        ):
            watched = [(front, front_log), (app, app_log)]
            for process, log in [*watched, *((s.process, s.log) for s in sites.values())]:
                assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, _startup_report(running)
            time.sleep(1)
        yield running
    finally:
        for process in reversed(processes):
            stop_process(process, 60)
        asyncio.run(_database("DROP", name))


async def _wait_for_live_call(deployment: Deployment, known: set[str]) -> tuple[str, str]:
    """The id and worker of a call in progress that is not one of `known`, once there is one."""
    engine = create_async_engine(deployment.front.db_url)
    deadline = time.monotonic() + 90
    try:
        while True:
            async with engine.connect() as conn:
                rows = await conn.execute(text("SELECT id, worker FROM calls WHERE ended IS NULL"))
                fresh = [(str(i), str(w)) for i, w in rows if i not in known and w]
            if fresh:
                return fresh[0]
            assert time.monotonic() < deadline, "no call in progress appeared in the store"
            await asyncio.sleep(0.3)
    finally:
        await engine.dispose()


def _staff_phone(deployment: Deployment, user: str, *, stay: float) -> subprocess.Popen[str]:
    return staff_phone(
        deployment.front.env, user, "--answer-after", "1", "--stay", str(stay),
        "--say", "Nurse speaking.", "--no-transcribe", "--timeout", "240",
    )  # fmt: skip


def _answered(phone: subprocess.Popen[str]) -> list[dict[str, Any]]:
    try:
        calls: list[dict[str, Any]] = answer_log(phone, timeout=300)["calls"]
    finally:
        if phone.poll() is None:
            phone.kill()
    return calls


async def test_a_caller_at_one_site_reaches_a_nurse_signed_in_at_the_other_card_first(
    deployment: Deployment,
) -> None:
    """The caller's worker is on one site; the nurse's console is open on the other. Her
    card pops there (the offer crosses through the store) before her phone rings."""
    phone = _staff_phone(deployment, "nurse1", stay=8)
    caller = asyncio.create_task(
        asyncio.to_thread(
            phone_call, deployment.front, "--wait", "6",
            "--say", "my chest hurts and I can't catch my breath",
            "--wait", "6", "--listen", "25", "--no-transcribe",
        )
    )  # fmt: skip
    call_id, worker = await _wait_for_live_call(deployment, set())
    answering_site = deployment.site_of(worker)
    assert answering_site is not None, worker
    other = next(s for s in deployment.sites.values() if s.name != answering_site)
    # She signs in on the other site while the caller hears the greeting.
    nurse = await sign_in_at_console(other.console, "nurse1")
    try:
        result = await caller
        answered = await asyncio.to_thread(_answered, phone)
    finally:
        await nurse.close()
    assert result["call_id"] == call_id
    record = await asyncio.to_thread(wait_for_record, deployment.front, call_id)
    assert record["triage_level"] == "emergent" and record["emergency_message_played"], record
    assert record["transferred"] and record["transfer_queue"] == "nurse", record
    assert answered and answered[0]["answered"], answered
    offers = nurse.offered_at(call_id)
    assert offers, nurse.messages
    assert offers[0] < answered[0]["rang_at"], (offers[0], answered[0]["rang_at"])


async def test_the_hold_line_is_first_come_first_served_across_sites(
    deployment: Deployment,
) -> None:
    """Nobody at the front desk: a caller on one site holds, then a caller on the other. The
    agent who signs in (at either site's console) gets the one who waited longer."""
    phone = _staff_phone(deployment, "front1", stay=6)
    known: set[str] = set()  # the earlier test's call has ended

    def hold() -> dict[str, Any]:
        return phone_call(
            deployment.front, "--dtmf", "0", "--dtmf", "1", "--listen", "50", timeout=240
        )

    first = asyncio.create_task(asyncio.to_thread(hold))
    first_id, first_worker = await _wait_for_live_call(deployment, known)
    await _until_holding(deployment, first_id)
    # The front sends the next caller to the worker with fewer calls: the other site.
    second = asyncio.create_task(asyncio.to_thread(hold))
    second_id, second_worker = await _wait_for_live_call(deployment, {*known, first_id})
    await _until_holding(deployment, second_id)
    assert {deployment.site_of(first_worker), deployment.site_of(second_worker)} == {"A", "B"}
    # The agent signs in at the second caller's site, to be sure locality does not win.
    console = deployment.sites[deployment.site_of(second_worker) or "A"].console
    http = aiohttp.ClientSession(
        headers={"Origin": console}, cookie_jar=aiohttp.CookieJar(unsafe=True)
    )
    try:
        login = {"username": "front1", "password": "front1-demo"}
        async with http.post(f"{console}/console/login", json=login) as r:
            assert r.status == 200, await r.text()
        _reader = await open_console(http, console)
        async with http.post(f"{console}/console/presence", json={"presence": "available"}) as r:
            assert r.status == 200, await r.text()
        await first
        await second
        answered = await asyncio.to_thread(_answered, phone)
    finally:
        await http.close()
    assert answered and answered[0]["answered"], answered
    records = {
        i: await asyncio.to_thread(wait_for_record, deployment.front, i)
        for i in (first_id, second_id)
    }
    assert records[first_id]["transferred"], records[first_id]["events"]
    assert records[first_id]["transfer_queue"] == "front_desk"
    assert not records[second_id]["transferred"], records[second_id]["events"]


async def _until_holding(deployment: Deployment, call_id: str) -> None:
    """Until the caller has chosen to hold (her `queue_choice` event is in the store)."""
    engine = create_async_engine(deployment.front.db_url)
    deadline = time.monotonic() + 120
    try:
        while True:
            async with engine.connect() as conn:
                found = await conn.scalar(
                    text("SELECT count(*) FROM call_events WHERE call_id = :c AND kind = :k"),
                    {"c": call_id, "k": "queue_choice"},
                )
            if found:
                return
            assert time.monotonic() < deadline, f"{call_id} never chose to hold"
            await asyncio.sleep(0.5)
    finally:
        await engine.dispose()


async def test_an_app_process_serves_the_nurse_and_its_death_costs_her_nothing(
    deployment: Deployment,
) -> None:
    """The nurse's console is on the app process, which holds no call: the offer reaches it
    through the store, the worker with the call rings her phone after. The app process is then
    killed; her session, her call and its wrap-up are all at the next process."""
    app = deployment.app
    nurse = await sign_in_at_console(app.console, "nurse1")
    phone = _staff_phone(deployment, "nurse1", stay=6)
    try:
        result = await asyncio.to_thread(
            phone_call, deployment.front, "--say", "my chest hurts and I can't catch my breath",
            "--wait", "6", "--listen", "20", "--no-transcribe",
        )  # fmt: skip
        answered = await asyncio.to_thread(_answered, phone)
    finally:
        await nurse.close_socket()
    call_id = result["call_id"]
    record = await asyncio.to_thread(wait_for_record, deployment.front, call_id)
    assert record["transferred"] and record["transfer_queue"] == "nurse", record
    assert answered and answered[0]["answered"], answered
    offers = nurse.offered_at(call_id)
    assert offers and offers[0] < answered[0]["rang_at"], (offers, answered)

    app.process.kill()  # SIGKILL: no goodbye
    app.process.wait(30)
    # Her browser goes to the next process behind the console's address: same host, so the
    # same cookie; nothing is asked of her again.
    other = deployment.sites["A"].console
    async with aiohttp.ClientSession(
        headers={"Origin": other}, cookie_jar=nurse.http.cookie_jar
    ) as http:
        async with http.get(f"{other}/console/me") as r:
            assert r.status == 200, await r.text()
            assert (await r.json())["agent"]["username"] == "nurse1"
        async with http.ws_connect(f"{other}/console/ws") as ws:
            assert (await ws.receive_json(timeout=10))["type"] == "hello"
        wrap = {"disposition": "emergency_transferred", "notes": "advised 911"}
        async with http.post(f"{other}/console/calls/{call_id}/wrapup", json=wrap) as r:
            assert r.status == 200, await r.text()
    await nurse.http.close()
    record = await asyncio.to_thread(wait_for_record, deployment.front, call_id)
    assert record["disposition"] == "emergency_transferred"
