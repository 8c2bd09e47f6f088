"""`clinicline bench --load`: concurrent callers through Kamailio in front of N voice workers.

It starts the whole site the way a clinic runs it — `clinicline serve --workers N` on a fresh
PostgreSQL database (Kamailio, N workers, each with its Rasa server and whisper) — and ramps
concurrent callers through the front: each caller is a real SIP phone process playing
recorded caller audio (clinic requests rendered once by Piper), so the phones spend no CPU on
speech synthesis. For each level it reports calls answered and failed, the turn latency a
caller experiences (from the end of their speech to the first bot audio packet, measured by
the phone) as p50 / p95, and CPU and peak memory by kind of process. Results go to
OUT/load.json, OUT/load.md and OUT/load.png.

Nothing here is a limit: the machine is shared and the figures are what it did that day.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from clinicline.bench import code_version, percentile
from clinicline.harness import ROOT, free_port_run

# Requests that stay in self-service (no transfer to a queue nobody staffs, whose hold music
# never finishes): what a Monday-morning caller asks.
LOAD_REQUESTS = (
    "I need a refill of my metformin please",
    "can I book an appointment with doctor Patel next week",
    "what time does the clinic open on Saturday",
    "I would like to cancel my appointment on Thursday",
    "I need to move my appointment to another day",
    "can I get a refill of my lisinopril",
)
# Callers answer the identity questions as the demo clinic's patients would (number, name, date
# of birth). Requests in their place sent every date-of-birth turn to the second hearing of a
# date (a constrained decode inside the dialog stage) after the long pause of an unfinished
# date: ~1 s of dialog stage at one call that no real caller causes.
LOAD_CALLERS = (
    ("+15550100001", "Maria Lopez", "March fourth nineteen seventy two"),
    ("+15550100002", "James Carter", "November twentieth nineteen fifty eight"),
    ("+15550100003", "Aisha Khan", "July nineteenth nineteen ninety"),
)


def caller_lines(index: int, turns: int) -> tuple[str, list[str]]:
    """Caller `index`'s number and lines: a request, her name, her date of birth, "yes" to the
    read-back, then more requests."""
    number, name, born = LOAD_CALLERS[index % len(LOAD_CALLERS)]
    requests = [LOAD_REQUESTS[(index + k) % len(LOAD_REQUESTS)] for k in range(turns)]
    lines = [requests[0], name, born, "yes", *requests[1:]]
    return number, lines[:turns]


KINDS = ("workers", "rasa", "kamailio", "postgresql", "supervisor", "phones")
ARRIVAL_SPREAD = 8.0  # seconds: about one caller turn
DEFAULT_PG = "postgresql+asyncpg://clinicline:clinicline@127.0.0.1:5432/clinicline_test"


def _pct(values: list[float], q: float) -> float | None:
    value = percentile(values, q)
    return None if value is None else round(value, 1)


def _ms(value: float | None) -> str:
    """A stage's time for the table: whole ms, tenths below 10 ms (the screen takes a few)."""
    if value is None:
        return "–"
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


# -- processes by kind, from /proc ------------------------------------------------------------
def _proc_table() -> dict[int, tuple[int, str, float, float]]:
    """pid -> (parent pid, command line, CPU seconds, resident MB) for every process."""
    table: dict[int, tuple[int, str, float, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            rss_pages = int((entry / "statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone between the listing and the read
        cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
        rss = rss_pages * os.sysconf("SC_PAGE_SIZE") / 2**20
        table[int(entry.name)] = (int(stat[1]), cmd, cpu, rss)
    return table


def _descends(pid: int, root: int, table: dict[int, tuple[int, str, float, float]]) -> bool:
    seen = 0
    while pid > 1 and seen < 64:
        if pid == root:
            return True
        pid, seen = table[pid][0] if pid in table else 0, seen + 1
    return False


def classify(
    table: dict[int, tuple[int, str, float, float]], site: int, phones: set[int]
) -> dict[int, str]:
    """Each process of the site (under the supervisor `site`), of PostgreSQL and the phones."""
    kinds: dict[int, str] = {}
    for pid, (_, cmd, _, _) in table.items():
        if pid in phones:
            kinds[pid] = "phones"
        elif cmd.startswith("postgres") or "/postgres " in cmd:
            kinds[pid] = "postgresql"
        elif pid == site:
            kinds[pid] = "supervisor"
        elif not _descends(pid, site, table):
            continue
        elif "kamailio" in cmd:
            kinds[pid] = "kamailio"
        elif "dialogs.inside_rasa" in cmd or "rasa_sdk" in cmd or ".venv-rasa" in cmd:
            kinds[pid] = "rasa"
        else:
            kinds[pid] = "workers"  # a worker and whatever it runs besides Rasa
    return kinds


def _machine_cpu() -> tuple[float, float]:
    """Busy and total CPU ticks of the whole machine so far (/proc/stat)."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


@dataclass
class KindSampler:
    """CPU seconds and peak resident memory summed over each kind of process."""

    site: int
    phones: set[int] = field(default_factory=set)
    cpu_start: dict[int, float] = field(default_factory=dict)
    machine_start: tuple[float, float] = (0.0, 0.0)
    cpu_last: dict[int, tuple[str, float]] = field(default_factory=dict)
    peak_mb: dict[str, float] = field(default_factory=dict)

    def begin(self) -> None:
        table = _proc_table()
        self.cpu_start = {pid: table[pid][2] for pid in classify(table, self.site, self.phones)}
        self.cpu_last, self.peak_mb = {}, {}
        self.machine_start = _machine_cpu()
        self.sample()

    def sample(self) -> None:
        table = _proc_table()
        totals: dict[str, float] = {}
        for pid, kind in classify(table, self.site, self.phones).items():
            self.cpu_last[pid] = (kind, table[pid][2])
            totals[kind] = totals.get(kind, 0.0) + table[pid][3]
        for kind, mb in totals.items():
            self.peak_mb[kind] = max(self.peak_mb.get(kind, 0.0), mb)

    def resident_mb(self) -> dict[str, float]:
        """Each kind's resident memory now."""
        table = _proc_table()
        totals = dict.fromkeys(KINDS, 0.0)
        for pid, kind in classify(table, self.site, self.phones).items():
            totals[kind] += table[pid][3]
        return totals

    def machine_busy(self) -> float:
        """The share of the machine's CPU time in use since `begin` (every process, the
        kernel's work for them included): 1.0 is every core busy."""
        busy, total = _machine_cpu()
        spent = total - self.machine_start[1]
        return (busy - self.machine_start[0]) / spent if spent > 0 else 0.0

    def cpu_seconds(self) -> dict[str, float]:
        """CPU each kind spent since `begin` (a process that exited counts up to its last
        sample)."""
        out: dict[str, float] = {}
        for pid, (kind, cpu) in self.cpu_last.items():
            out[kind] = out.get(kind, 0.0) + cpu - self.cpu_start.get(pid, 0.0)
        return out


# -- the site ---------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def scratch_database(prefix: str) -> AsyncIterator[str]:
    """A PostgreSQL database of its own for one bench run (the server started here when this
    machine has it): its URL, dropped afterwards."""
    admin_url = os.environ.get("CLINICLINE_TEST_PG_URL", DEFAULT_PG)
    start_pg = ROOT / "deploy" / "start-postgres.sh"
    if os.geteuid() == 0 and start_pg.exists():
        subprocess.run([str(start_pg)], check=True)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    await _database(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await _database(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _database(admin_url: str, statement: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


def _health(port: int) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3) as response:
            body: dict[str, Any] = json.loads(response.read())
            return body
    except (OSError, ValueError):
        return {}


@dataclass
class Site:
    process: subprocess.Popen[bytes]
    sip_port: int
    http_ports: list[int]
    db_url: str
    env: dict[str, str]
    log: Path

    @property
    def uri(self) -> str:
        return f"sip:clinic@127.0.0.1:{self.sip_port}"

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not all(_health(p).get("status") == "ready" for p in self.http_ports):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the site did not start:\n" + self.log.read_text()[-3000:])
            time.sleep(2)
        time.sleep(4)  # Kamailio's next OPTIONS probe puts every worker in rotation

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(90)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_site(work: Path, db_url: str, workers: int, rasa: bool) -> Site:
    import socket

    from cryptography.fernet import Fernet

    env = {
        **os.environ,
        "CLINICLINE_DATA_KEY": Fernet.generate_key().decode(),
        "CLINICLINE_DATA_DIR": str(work / "data"),
    }
    cli = [sys.executable, "-m", "clinicline.cli"]
    seeded = subprocess.run([*cli, "seed", "--demo", "--db", db_url], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    if seeded.returncode != 0:
        raise RuntimeError("seeding the demo clinic failed:\n" + seeded.stderr[-2000:])
    sip = free_port_run(socket.SOCK_DGRAM, workers + 2)
    http = free_port_run(socket.SOCK_STREAM, workers)
    rasa_port = free_port_run(socket.SOCK_STREAM, 2 * workers)
    log = work / "site.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*cli, "serve", "--workers", str(workers), "--sip", f"127.0.0.1:{sip}",
             "--http", f"127.0.0.1:{http}", "--rasa-port", str(rasa_port), "--db", db_url,
             *([] if rasa else ["--no-rasa"])],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return Site(process, sip, [http + i for i in range(workers)], db_url, env, log)


# -- the callers --------------------------------------------------------------------------------
def render_caller_audio(folder: Path) -> dict[str, Path]:
    """Every line a caller says, spoken once by Piper into a WAV file the phones play."""
    from voice.audio.wav import write_wav
    from voice.phone.phone import trim_silence
    from voice.tts.piper import PiperSynthesizer

    voice = PiperSynthesizer()
    sentences = [*LOAD_REQUESTS, "yes", *(line for c in LOAD_CALLERS for line in c[1:])]
    paths = {}
    for i, sentence in enumerate(sentences):
        path = folder / f"caller-{i}.wav"
        # Without the voice's own trailing quiet (~0.2 s), as the phones trim what they say:
        # the phone measures a turn from the end of what it played.
        spoken = trim_silence(np.concatenate(list(voice.synthesize(sentence))), margin_frames=3)
        write_wav(path, spoken, voice.sample_rate)
        paths[sentence] = path
    return paths


@dataclass
class CallerRun:
    process: asyncio.subprocess.Process
    log: dict[str, Any] = field(default_factory=dict)


async def _caller(site: Site, wavs: dict[str, Path], turns: int, index: int) -> CallerRun:
    number, lines = caller_lines(index, turns)
    args = [sys.executable, "-m", "clinicline.cli", "call", "--to", site.uri, "--db",
            site.db_url, "--voice", "espeak", "--no-transcribe", "--turn-max", "20",
            "--listen", "2", "--caller", number]  # fmt: skip
    for line in lines:
        args += ["--play", str(wavs[line])]
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=ROOT, env=site.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    return CallerRun(proc)


# pjsip's own log lines start with a time of day and may come before or after the JSON.
_PJSIP_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} ")


def _call_log(stdout: str) -> dict[str, Any]:
    """The phone's JSON log ({} when it printed none: the call counts as failed)."""
    body = [line for line in stdout.splitlines() if not _PJSIP_LINE.match(line)]
    start = next((i for i, line in enumerate(body) if line.startswith("{")), None)
    try:
        parsed: dict[str, Any] = json.loads("\n".join(body[start:])) if start is not None else {}
        return parsed
    except ValueError:
        return {}


async def run_level(
    site: Site, sampler: KindSampler, wavs: dict[str, Path], calls: int, turns: int
) -> dict[str, Any]:
    """`calls` callers at once, each playing `turns` requests and waiting for every reply.
    They dial at random moments within ARRIVAL_SPREAD seconds (the same moments every run),
    as callers do: started in step, their turns would all end in the same instant."""
    sampler.phones = set()
    sampler.begin()
    started = time.monotonic()
    arrivals = sorted(random.Random(calls).uniform(0, ARRIVAL_SPREAD) for _ in range(calls))
    runs: list[CallerRun] = []
    for i, at in enumerate(arrivals):
        await asyncio.sleep(max(0.0, started + at - time.monotonic()))
        run = await _caller(site, wavs, turns, i)
        runs.append(run)
        sampler.phones.add(run.process.pid)

    async def finish(run: CallerRun) -> None:
        try:
            out, _ = await asyncio.wait_for(run.process.communicate(), timeout=300)
            run.log = _call_log(out.decode(errors="replace"))
        except TimeoutError:
            run.process.kill()
            await run.process.wait()

    waiting = asyncio.gather(*(finish(run) for run in runs))
    while not waiting.done():
        sampler.sample()
        await asyncio.sleep(1)
    await waiting
    wall = time.monotonic() - started
    latencies: list[float] = []
    greetings = [
        float(run.log["greeting_latency_ms"])
        for run in runs
        if run.log.get("greeting_latency_ms") is not None
    ]
    answered = failed = 0
    for run in runs:
        turns_heard = [t for t in run.log.get("turns", []) if t.get("latency_ms") is not None]
        latencies += [float(t["latency_ms"]) for t in turns_heard]
        connected = bool(run.log.get("connected"))
        answered += connected
        # A call fails when it is not answered or a request of the caller's goes unanswered.
        failed += (not connected) or len(turns_heard) < turns
    cpu, busy = sampler.cpu_seconds(), sampler.machine_busy()
    await asyncio.sleep(2)  # the records of the last calls land
    stages = await server_stages(site, [str(r.log.get("call_id") or "") for r in runs])
    return {
        "calls": calls,
        "answered": answered,
        "failed": failed,
        "turns_measured": len(latencies),
        "latency_ms_p50": _pct(latencies, 0.5),
        "latency_ms_p95": _pct(latencies, 0.95),
        "latency_ms": latencies,
        "greeting_ms_p50": _pct(greetings, 0.5),
        "greeting_ms_p95": _pct(greetings, 0.95),
        "server_ms": stages,
        "seconds": round(wall, 1),
        "cpu_cores": {k: round(cpu.get(k, 0.0) / wall, 3) for k in KINDS},
        "machine_busy": round(busy, 3),
        "peak_rss_mb": {k: round(sampler.peak_mb.get(k, 0.0), 1) for k in KINDS},
    }


async def run_soak(
    site: Site, sampler: KindSampler, wavs: dict[str, Path], total: int, at_once: int, turns: int
) -> dict[str, Any]:
    """`total` calls, `at_once` at a time; each kind's resident memory after every batch and
    its slope (least squares, the first batch left out as warm-up) in MB per 100 calls."""
    done = answered = failed = 0
    latencies: list[float] = []
    points: list[tuple[int, dict[str, float]]] = []
    while done < total:
        batch = await run_level(site, sampler, wavs, min(at_once, total - done), turns)
        done += batch["calls"]
        answered, failed = answered + batch["answered"], failed + batch["failed"]
        latencies += batch["latency_ms"]
        await asyncio.sleep(3)  # the batch's records land and its calls are let go
        sampler.phones = set()
        points.append((done, sampler.resident_mb()))
        print(json.dumps({"calls_done": done, "failed": failed, "rss_mb": points[-1][1]}),
              flush=True)  # fmt: skip
    # What each worker still holds once every call is over: live legs, pjsua2 calls, slots.
    held = [
        {k: (_health(port).get("components") or {}).get("workers", {}).get(k)
         for k in ("active_calls", "sip_calls", "slots_in_use")}
        for port in site.http_ports
    ]  # fmt: skip
    steady = points[1:] if len(points) > 2 else points
    return {
        "calls": total,
        "at_once": at_once,
        "answered": answered,
        "failed": failed,
        "latency_ms_p50": _pct(latencies, 0.5),
        "latency_ms_p95": _pct(latencies, 0.95),
        "rss_mb_first": {k: round(v, 1) for k, v in points[0][1].items()},
        "rss_mb_last": {k: round(v, 1) for k, v in points[-1][1].items()},
        "rss_slope_mb_per_100_calls": rss_slopes(steady),
        # Warm-up can outlast the first batch (a 500-call run's workers grew 96 MB in their
        # first 136 calls, then ~4 per 100): the second half alone says whether growth goes on.
        "rss_slope_second_half_mb_per_100_calls": rss_slopes(points[len(points) // 2 :]),
        "held_after": held,
    }


def rss_slopes(points: list[tuple[int, dict[str, float]]]) -> dict[str, float | None]:
    """Each process kind's resident memory against calls done, as a least-squares slope in MB
    per 100 calls (None with fewer than two points)."""
    slopes: dict[str, float | None] = {}
    for kind in ("workers", "rasa", "kamailio", "supervisor"):
        if len(points) < 2:
            slopes[kind] = None
            continue
        x = np.array([n for n, _ in points], dtype=float)
        y = np.array([mb[kind] for _, mb in points])
        slopes[kind] = round(float(np.polyfit(x, y, 1)[0]) * 100, 2)
    return slopes


async def server_stages(site: Site, call_ids: list[str]) -> dict[str, list[float | None]]:
    """Where the turn's time went, from the workers' own `turn_timing` events: the red-flag
    screen of the final words (its own time), then transcript ready (screened), dialog
    answered and first audio out, each from the moment the worker's voice detector called the
    caller's speech over (after its pause, not at her last word); [p50, p95] over the calls'
    turns."""
    from integrations.services.call_report import call_report
    from integrations.store import Database

    stages: dict[str, list[float]] = {
        "screen_ms": [],
        "recognized_ms": [],
        "dialog_done_ms": [],
        "first_audio_ms": [],
    }
    store = await Database.connect(site.db_url, site.env["CLINICLINE_DATA_KEY"].encode())
    try:
        for call_id in filter(None, call_ids):
            async with store.session() as s:
                report = await call_report(s, call_id)
            for event in report["events"]:
                if event["kind"] == "turn_timing":
                    for stage, values in stages.items():
                        if isinstance(event["data"].get(stage), int | float):
                            values.append(float(event["data"][stage]))
    finally:
        await store.dispose()
    return {k: [_pct(v, 0.5), _pct(v, 0.95)] for k, v in stages.items()}


# -- the report -------------------------------------------------------------------------------
def markdown(all_results: dict[str, Any]) -> str:
    lines = ["# Load: concurrent callers through Kamailio", ""]
    if "load" in all_results:
        lines += _load_markdown(all_results["load"])
    if "soak" in all_results:
        lines += _soak_markdown(all_results["soak"])
    return "\n".join(lines)


def _soak_markdown(run: dict[str, Any]) -> list[str]:
    soak, m = run["soak"], run["machine"]
    slopes = soak["rss_slope_mb_per_100_calls"]
    # Runs before the second-half slope was kept show a dash there.
    late = soak.get("rss_slope_second_half_mb_per_100_calls") or {}
    lines = [
        "## Soak",
        "",
        f"Run {run['date']} ({run['code']}) on {m['cpus']} cores: "
        f"`clinicline bench --load --soak {soak['calls']} --calls {soak['at_once']} "
        f"--workers {run['workers']}` — {soak['calls']} calls, {soak['at_once']} at a time, "
        f"{run['turns']} request{'' if run['turns'] == 1 else 's'} each. "
        f"Answered {soak['answered']}, failed {soak['failed']}; "
        f"turn latency p50 {soak['latency_ms_p50']} ms, p95 {soak['latency_ms_p95']} ms.",
        "",
        "| process kind | resident MB after the first batch | after the last | slope, MB per "
        "100 calls (first batch left out) | slope over the second half |",
        "|---|---|---|---|---|",
    ]
    for kind in ("workers", "rasa", "kamailio", "supervisor"):
        lines.append(
            f"| {kind} | {soak['rss_mb_first'][kind]} | {soak['rss_mb_last'][kind]} "
            f"| {slopes[kind]} | {late.get(kind, '—')} |"
        )
    if soak.get("held_after"):
        lines += [
            "",
            "Held by each worker after the last call (live call legs / pjsua2 calls / call "
            "slots, from its /health): "
            + ", ".join(
                f"{h['active_calls']} / {h['sip_calls']} / {h['slots_in_use']}"
                for h in soak["held_after"]
            )
            + ".",
        ]
    return [*lines, ""]


def _load_markdown(results: dict[str, Any]) -> list[str]:
    m = results["machine"]
    lines = [
        f"Run {results['date']} ({results['code']}) on {m['cpus']} cores, {m['python']}, "
        f"{m['platform']}: `clinicline bench --load --workers {results['workers']}` — "
        f"Kamailio in front of {results['workers']} voice workers "
        f"({'each with its Rasa server' if results['rasa'] else 'keypad dialog, no Rasa'}), "
        "whisper tiny.en, Piper, one PostgreSQL. Each caller is a real SIP phone process "
        f"playing {results['turns']} recorded requests, dialling at random moments within "
        f"{ARRIVAL_SPREAD:.0f} s of each other; latency is from the end of the "
        "caller's speech to the first bot audio packet, measured by the phone; the greeting's, "
        "from the answer's audio connecting to the greeting's first voiced frame. The phones "
        "run on the same 2 cores as the site. Shared machine: figures, not limits.",
        "",
        "| concurrent calls | answered | failed | turns | p50 latency | p95 latency "
        "| greeting p50 / p95 "
        "| machine busy | CPU cores: workers / Rasa / Kamailio / PostgreSQL / phones "
        "| peak RSS MB: workers / Rasa / Kamailio / PostgreSQL |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for level in results["levels"]:
        c, r = level["cpu_cores"], level["peak_rss_mb"]
        greeting = " / ".join(
            "–" if level.get(k) is None else f"{level[k]} ms"
            for k in ("greeting_ms_p50", "greeting_ms_p95")
        )
        lines.append(
            f"| {level['calls']} | {level['answered']} | {level['failed']} "
            f"| {level['turns_measured']} | {level['latency_ms_p50']} ms "
            f"| {level['latency_ms_p95']} ms | {greeting} | {level.get('machine_busy', 0):.0%} "
            f"| {c['workers']} / {c['rasa']} / {c['kamailio']} / {c['postgresql']} / "
            f"{c['phones']} | {r['workers']} / {r['rasa']} / {r['kamailio']} / "
            f"{r['postgresql']} |"
        )
    lines += [
        "",
        "Where a turn's time goes, as the workers log it, p50 / p95. Each is counted from the "
        "moment the worker's voice detector calls the caller's speech over, which is after its "
        "pause (250 ms of quiet): the phone's latency above starts at her last word, so it is "
        "these plus that pause and the audio's way back.",
        "",
        "| concurrent calls | red-flag screen (final words) | transcript ready (screened) "
        "| dialog answered | first audio out |",
        "|---|---|---|---|---|",
    ]
    for level in results["levels"]:
        st = level.get("server_ms") or {}
        cells = [
            " / ".join(_ms(v) for v in st.get(k, [None, None]))
            for k in ("screen_ms", "recognized_ms", "dialog_done_ms", "first_audio_ms")
        ]
        lines.append(f"| {level['calls']} | " + " | ".join(f"{c} ms" for c in cells) + " |")
    goal = [lv for lv in results["levels"] if lv["failed"] == 0 and
            (lv["latency_ms_p95"] or 1e9) <= 1500]  # fmt: skip
    best = max((lv["calls"] for lv in goal), default=0)
    lines += [
        "",
        f"Most concurrent calls with 0 failed and p95 ≤ 1.5 s: **{best}** "
        f"({best / m['cpus']:.1f} per core, phones included on the same cores).",
        "",
        "Machine busy is the share of both cores in use over the level (/proc/stat); the CPU "
        "columns are each kind's cores on average over the level, turns and pauses together "
        "(the callers' speech leaves the site idle between turns, so the peaks are higher); "
        "memory is the peak of each kind's "
        "resident memory summed over its processes (pages Kamailio's and PostgreSQL's "
        "processes share are counted in each). PostgreSQL is the whole server.",
        "",
        "![latency by concurrent calls](load.png)",
        "",
    ]
    return lines


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = results["levels"]
    calls = [lv["calls"] for lv in levels]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(calls, [lv["latency_ms_p50"] or 0 for lv in levels], marker="o", label="p50")
    ax.plot(calls, [lv["latency_ms_p95"] or 0 for lv in levels], marker="s", label="p95")
    ax.axhline(1500, linestyle="--", linewidth=1, label="1.5 s goal")
    ax.set_xlabel("concurrent calls")
    ax.set_ylabel("end of speech → first bot audio (ms)")
    ax.set_title(f"Kamailio + {results['workers']} workers on {results['machine']['cpus']} cores")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


async def run_bench_load(
    out: Path, levels: list[int], workers: int, turns: int, rasa: bool = True, soak: int = 0
) -> dict[str, Any]:
    """The load levels, or with `soak` > 0 a soak of that many calls `levels[0]` at a time;
    either keeps the other's last results in OUT/load.json."""
    run: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "code": code_version(),
        "machine": {
            "cpus": len(os.sched_getaffinity(0)),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "workers": workers,
        "rasa": rasa,
        "turns": turns,
    }
    async with scratch_database("clinicline_load") as db_url:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            wavs = await asyncio.to_thread(render_caller_audio, work)
            site = start_site(work, db_url, workers, rasa)
            try:
                await asyncio.to_thread(site.wait_ready, 900)
                sampler = KindSampler(site.process.pid)
                if soak:
                    run["soak"] = await run_soak(site, sampler, wavs, soak, levels[0], turns)
                else:
                    run["levels"] = []
                    for calls in levels:
                        level = await run_level(site, sampler, wavs, calls, turns)
                        run["levels"].append(level)
                        print(json.dumps({k: v for k, v in level.items() if k != "latency_ms"}),
                              flush=True)  # fmt: skip
                        await asyncio.sleep(5)  # the records land, the slots come back
            finally:
                site.stop()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "load.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results["soak" if soak else "load"] = run
    path.write_text(json.dumps(results, indent=2))
    if "load" in results:
        plot(results["load"], out / "load.png")
    (out / "load.md").write_text(markdown(results))
    return results
