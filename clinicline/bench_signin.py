"""`clinicline bench --only-signin`: a live call's turn latency while 1,000 sign-ins hit the
console, and what the classic attacks on the sign-in achieve.

It starts its own `clinicline serve` (echo dialog: the voice path alone) on a seeded demo
clinic, places one call as a baseline, then the same call while 1,000 sign-in attempts are
sent, 32 at a time, each with an invented username from its own address (X-Forwarded-For;
the server trusts loopback as its proxy), so that every attempt costs a password hash. Then
the attacks: 200 concurrent guesses at one account, the lockout of a real nurse by someone
at another address, and 10,002 invented usernames meant to wipe a lockout.

It uses only the harness, the phone and HTTP, so the same file runs against an older
checkout for a before/after comparison: `python -m clinicline.bench_signin --out DIR`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

SENTENCES = (
    "I need a refill of my metformin please",
    "can I book an appointment with doctor Patel next week",
    "what time does the clinic open on Saturday",
    "I would like to cancel my appointment on Thursday",
    "is my insurance still on file with you",
    "can somebody call me back this afternoon",
)
ATTEMPTS = 1000
CONCURRENCY = 32


def _pct(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else None


async def _call(uri: str, env: dict[str, str]) -> list[float]:
    args = [sys.executable, "-m", "clinicline.cli", "call", "--to", uri, "--no-transcribe",
            "--listen", "2"]
    for line in SENTENCES:
        args += ["--say", line]
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    )
    out = (await proc.communicate())[0].decode()
    log = json.loads(out[out.index("{"):]) if "{" in out else {"turns": []}
    return [t["latency_ms"] for t in log["turns"] if t.get("latency_ms")]


class Console:
    """Sign-in attempts against one server, from any address we like."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))

    async def login(self, username: str, password: str, address: str) -> int:
        headers = {"Origin": self.url, "X-Forwarded-For": address}
        try:
            async with self.http.post(f"{self.url}/console/login", headers=headers,
                                      json={"username": username, "password": password}) as r:
                return r.status
        except (aiohttp.ClientError, TimeoutError):
            return 0

    async def many(self, attempts: list[tuple[str, str, str]], concurrency: int) -> Counter[int]:
        statuses: Counter[int] = Counter()
        queue = list(reversed(attempts))

        async def worker() -> None:
            while queue:
                statuses[await self.login(*queue.pop())] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return statuses

    async def close(self) -> None:
        await self.http.close()


def _spray(n: int, tag: str) -> list[tuple[str, str, str]]:
    return [(f"{tag}{i}", "wrong-password", f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}")
            for i in range(n)]


async def _latency_under_load(server: Any, console: Console) -> dict[str, Any]:
    quiet = await _call(server.uri, server.env)
    t0 = time.monotonic()
    flood = asyncio.create_task(console.many(_spray(ATTEMPTS, "spray"), CONCURRENCY))
    loaded = await _call(server.uri, server.env)
    call_done = time.monotonic() - t0
    statuses = await flood
    flood_s = time.monotonic() - t0
    return {
        "attempts": ATTEMPTS, "concurrency": CONCURRENCY,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "flood_seconds": round(flood_s, 1), "call_seconds": round(call_done, 1),
        "quiet_ms": {"median": _median(quiet), "p95": _pct(quiet, 0.95), "turns": len(quiet)},
        "loaded_ms": {"median": _median(loaded), "p95": _pct(loaded, 0.95),
                      "turns": len(loaded)},
    }


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


async def _attacks(console: Console) -> dict[str, Any]:
    out: dict[str, Any] = {}
    guesses = await console.many([("nurse1", f"guess-{i}", "10.200.0.1") for i in range(200)],
                                 200)
    out["brute_force_200_concurrent"] = {"checked (401)": guesses[401],
                                         "refused (429)": guesses[429]}
    await console.many([("nurse2", f"guess-{i}", "10.200.0.2") for i in range(10)], 1)
    out["real_nurse_after_10_guesses_elsewhere"] = await console.login(
        "nurse2", "nurse2-demo", "10.1.1.1")
    # The wipe: the old console cleared its whole failure map past 10,000 usernames. Lock
    # front1 just before the flood crosses that line, then guess at front1 again.
    t0 = time.monotonic()
    attacker = "10.200.0.3"
    await console.many([(f"wipe{i}", "x", attacker) for i in range(9_990)], CONCURRENCY)
    locking = await console.many([("front1", f"guess-{i}", attacker) for i in range(5)], 1)
    await console.many([(f"wipe{i}", "x", attacker) for i in range(9_990, 10_002)], 1)
    after = await console.login("front1", "guess-after-the-wipe", attacker)
    out["map_wipe"] = {
        "front1 guesses while locking": {str(k): v for k, v in locking.items()},
        "guess at front1 after 10,002 invented usernames": after,
        "flood_seconds": round(time.monotonic() - t0, 1),
    }
    return out


async def bench_signin(root: Path) -> dict[str, Any]:
    from clinicline.harness import ROOT, start_server

    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite+aiosqlite:///{Path(tmp) / 'clinic.db'}"
        subprocess.run([sys.executable, "-m", "clinicline.cli", "seed", "--demo", "--db", db_url],
                       cwd=ROOT, capture_output=True, timeout=300, check=True)
        server = start_server(Path(tmp), data_dir=(root / "var" / "bench-data").resolve(),
                              dialog="echo", db_url=db_url,
                              env={"CLINICLINE_TRUSTED_PROXIES": "127.0.0.1"})
        console = Console(f"http://127.0.0.1:{server.http_port}")
        try:
            server.wait_ready()
            results: dict[str, Any] = {"latency": await _latency_under_load(server, console)}
            results["attacks"] = await _attacks(console)
            results["server_errors_logged"] = server.log().count("Traceback")
            return results
        finally:
            await console.close()
            server.stop()


def markdown(results: dict[str, Any]) -> list[str]:
    """The sign-in section of docs/bench/README.md, one column per run (before, after)."""
    runs = results["runs"]
    names = list(runs)
    labels = ", ".join(f"{n} ({runs[n]['date']}, {runs[n]['code']})" for n in names)
    lines = ["", "## A live call during 1,000 sign-in attempts, and attacks on the sign-in", "",
             f"Runs: {labels}.",
             "One call of six sentences (echo dialog), alone and then while 1,000 sign-ins "
             f"with invented usernames from 1,000 addresses arrive {CONCURRENCY} at a time "
             "(every one costs a hash).", "",
             "| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]

    def row(label: str, get: Any) -> None:
        lines.append(f"| {label} | " + " | ".join(str(get(runs[n])) for n in names) + " |")

    row("turn latency alone, median / p95 (ms)",
        lambda r: f"{r['latency']['quiet_ms']['median']} / {r['latency']['quiet_ms']['p95']}")
    row("during the sign-ins, median / p95 (ms)",
        lambda r: f"{r['latency']['loaded_ms']['median']} / {r['latency']['loaded_ms']['p95']}")
    row("1,000 sign-ins took (s)", lambda r: r["latency"]["flood_seconds"])
    row("their answers", lambda r: ", ".join(
        f"{k}: {v}" for k, v in r["latency"]["statuses"].items()))
    row("200 concurrent guesses at one account: checked / refused", lambda r: (
        f"{r['attacks']['brute_force_200_concurrent']['checked (401)']} / "
        f"{r['attacks']['brute_force_200_concurrent']['refused (429)']}"))
    row("real nurse signing in after 10 guesses at her account from elsewhere", lambda r: (
        "signed in" if r["attacks"]["real_nurse_after_10_guesses_elsewhere"] == 200
        else f"refused ({r['attacks']['real_nurse_after_10_guesses_elsewhere']})"))
    row("a guess at a locked account after 10,002 invented usernames", lambda r: (
        "refused" if r["attacks"]["map_wipe"]["guess at front1 after 10,002 invented usernames"]
        == 429 else "checked: the lockout was wiped"))
    row("tracebacks in the server log", lambda r: r["server_errors_logged"])
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--name", default="after", help="this run's column, e.g. before")
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    run = asyncio.run(bench_signin(root))
    code = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False).stdout.strip()
    run.update(date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), code=code)
    data = json.loads(args.out.read_text()) if args.out.exists() else {"runs": {}}
    data["runs"][args.name] = run
    args.out.write_text(json.dumps(data, indent=2))
    print("\n".join(markdown(data)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
