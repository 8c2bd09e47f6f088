"""`clinicline bench --only-signin`: a live call's turn latency while 1,000 sign-ins hit the
console, and what the classic attacks on the sign-in achieve.

It starts its own `clinicline serve` on a seeded demo clinic with the product dialog (real
Rasa), and places the scripted scheduling call (shared/eval/calls/schedule.yaml) twice: alone,
then while 1,000 staff sign-ins with the right password arrive, 32 at a time, each from its own
address (X-Forwarded-For; the server is told to trust loopback as its proxy). Right passwords
are never throttled, so every one of them costs a password hash in any version. Then the
attacks: 200 concurrent guesses at one account; a real nurse signing in after someone
elsewhere guessed at her account; how long a wrong password takes for an unknown versus a
known username; and invented usernames sent until a lockout is wiped (12,000 at most).
Quiet and loaded calls alternate, twice, so that a drift in the shared machine's load is not
taken for an effect.

It uses only the harness, the phone and HTTP, so the same file runs against an older
checkout for the before figures: `python -m clinicline.bench_signin --out FILE --name before`.
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

ATTEMPTS = 1000
CONCURRENCY = 32
ROUNDS = 2
STAFF = ("front1", "sched1", "billing1", "pharm1", "nurse1", "nurse2", "super1")
WIPE_BATCH, WIPE_MAX = 500, 12_000


def _pct(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else None


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _address(i: int, net: int = 10) -> str:
    return f"{net}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


async def _call(uri: str, script: Path, env: dict[str, str]) -> list[float]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "clinicline.cli", "call", "--to", uri, "--script", str(script),
        "--no-transcribe", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
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

    async def timed(self, username: str, password: str, address: str) -> float:
        t0 = time.perf_counter()
        await self.login(username, password, address)
        return (time.perf_counter() - t0) * 1000

    async def close(self) -> None:
        await self.http.close()


async def _latency_under_sign_ins(server: Any, console: Console, script: Path) -> dict[str, Any]:
    """Quiet call, loaded call, ROUNDS times over (the machine is shared: alternating keeps a
    drift in its load from passing for an effect)."""
    quiet: list[float] = []
    loaded: list[float] = []
    floods: list[float] = []
    statuses: Counter[int] = Counter()
    for round_ in range(ROUNDS):
        quiet += await _call(server.uri, script, server.env)
        sign_ins = [(STAFF[i % len(STAFF)], f"{STAFF[i % len(STAFF)]}-demo",
                     _address(round_ * ATTEMPTS + i)) for i in range(ATTEMPTS)]

        async def flood(sign_ins: list[tuple[str, str, str]] = sign_ins) -> float:
            t0 = time.monotonic()
            statuses.update(await console.many(sign_ins, CONCURRENCY))
            return time.monotonic() - t0

        running = asyncio.create_task(flood())
        loaded += await _call(server.uri, script, server.env)
        floods.append(round(await running, 1))
    return {
        "attempts": ATTEMPTS, "concurrency": CONCURRENCY, "rounds": ROUNDS,
        "flood_seconds": floods, "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "quiet_ms": {"median": _median(quiet), "p95": _pct(quiet, 0.95), "turns": len(quiet)},
        "loaded_ms": {"median": _median(loaded), "p95": _pct(loaded, 0.95),
                      "turns": len(loaded)},
    }


async def _wipe(console: Console) -> dict[str, Any]:
    """Lock front1 from one address, then send invented usernames from that address in
    batches, guessing at front1 again after each batch."""
    attacker = "10.200.0.3"
    locking = await console.many([("front1", f"guess-{i}", attacker) for i in range(6)], 1)
    sent, answer, t0 = 0, 429, time.monotonic()
    while sent < WIPE_MAX:
        batch = [(f"wipe{sent + i}", "x", attacker) for i in range(WIPE_BATCH)]
        await console.many(batch, CONCURRENCY)
        sent += WIPE_BATCH
        answer = await console.login("front1", f"guess-after-{sent}", attacker)
        if answer != 429:
            break
    return {"locking": {str(k): v for k, v in locking.items()}, "invented_sent": sent,
            "guess_answer": answer, "seconds": round(time.monotonic() - t0, 1)}


async def _attacks(console: Console) -> dict[str, Any]:
    out: dict[str, Any] = {}
    guesses = await console.many([("nurse1", f"guess-{i}", "10.200.0.1") for i in range(200)],
                                 200)
    out["brute_force_200_concurrent"] = {"checked": guesses[401], "refused": guesses[429]}
    await console.many([("nurse2", f"guess-{i}", "10.200.0.2") for i in range(10)], 1)
    out["real_nurse_after_10_guesses_elsewhere"] = await console.login(
        "nurse2", "nurse2-demo", "10.1.1.1")
    unknown = [await console.timed(f"nobody{i}", "wrong", _address(i, 11)) for i in range(20)]
    known = [await console.timed(STAFF[i % 5], "wrong", _address(i, 12)) for i in range(20)]
    out["wrong_password_ms"] = {"unknown_user": _median(unknown), "known_user": _median(known)}
    out["map_wipe"] = await _wipe(console)
    return out


def hash_costs(rounds: int = 10) -> dict[str, Any]:
    """One password hash under each scheme we considered: its median time, and how long the
    event loop's thread stalls while two other threads hash (does it release the GIL?)."""
    import hashlib
    import threading

    candidates: dict[str, Any] = {
        "scrypt n=2^14 r=8 p=1 (16 MiB, before)": lambda: hashlib.scrypt(
            b"pw", salt=b"0" * 16, n=2**14, r=8, p=1, dklen=32),
    }
    try:
        from argon2.low_level import Type, hash_secret_raw

        candidates["argon2-cffi Argon2id 19 MiB t=2 p=1 (after)"] = lambda: hash_secret_raw(
            b"pw", b"0" * 16, time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32,
            type=Type.ID)
    except ImportError:
        pass
    try:
        from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

        candidates["cryptography Argon2id 19 MiB t=2 p=1"] = lambda: Argon2id(
            salt=b"0" * 16, length=32, iterations=2, lanes=1, memory_cost=19 * 1024
        ).derive(b"pw")
    except ImportError:
        pass
    out: dict[str, Any] = {}
    for name, run in candidates.items():
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            run()
            times.append((time.perf_counter() - t0) * 1000)
        workers = [threading.Thread(target=lambda run=run: [run() for _ in range(rounds)])
                   for _ in range(2)]
        for w in workers:
            w.start()
        stalls = []
        while any(w.is_alive() for w in workers):
            t0 = time.perf_counter()
            time.sleep(0.001)
            stalls.append((time.perf_counter() - t0) * 1000 - 1)
        for w in workers:
            w.join()
        out[name] = {"median_ms": _median(times), "loop_stall_p50_ms": _median(stalls),
                     "loop_stall_max_ms": round(max(stalls, default=0.0), 1)}
    return out


async def bench_signin(root: Path) -> dict[str, Any]:
    from clinicline.harness import ROOT, free_port, start_server

    script = root.parent / "shared" / "eval" / "calls" / "schedule.yaml"
    if not script.exists():
        raise FileNotFoundError(f"{script}: the shared call scripts sit beside the repository")
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite+aiosqlite:///{Path(tmp) / 'clinic.db'}"
        subprocess.run([sys.executable, "-m", "clinicline.cli", "seed", "--demo", "--db", db_url],
                       cwd=ROOT, capture_output=True, timeout=300, check=True)
        server = start_server(Path(tmp), data_dir=(root / "var" / "bench-data").resolve(),
                              dialog="clinic", db_url=db_url,
                              extra_args=["--rasa-port", str(free_port())],
                              env={"CLINICLINE_TRUSTED_PROXIES": "127.0.0.1"})
        console = Console(f"http://127.0.0.1:{server.http_port}")
        results: dict[str, Any] = {}
        try:
            server.wait_ready(timeout=900, want=("ready",))
            results["latency"] = await _latency_under_sign_ins(server, console, script)
            results["attacks"] = await _attacks(console)
            results["server_errors_logged"] = server.log().count("Traceback")
        finally:
            await console.close()
            server.stop()
    results["hash_costs"] = hash_costs()
    return results


def markdown(results: dict[str, Any]) -> list[str]:
    """The sign-in section of docs/bench/README.md, one column per run (before, after)."""
    runs = results["runs"]
    names = list(runs)
    labels = ", ".join(f"{n} ({runs[n]['date']}, {runs[n]['code']})" for n in names)
    lines = ["", "## A live call during 1,000 sign-ins, and attacks on the sign-in", "",
             f"Runs: {labels}. The scripted scheduling call (real Rasa), alone and then while "
             f"1,000 staff sign-ins with the right password arrive {CONCURRENCY} at a time from "
             f"1,000 addresses (every one costs a hash), {ROUNDS} rounds; then the attacks.",
             "",
             "| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]

    def row(label: str, get: Any) -> None:
        lines.append(f"| {label} | " + " | ".join(str(get(runs[n])) for n in names) + " |")

    def ms(part: str) -> Any:
        return lambda r: f"{r['latency'][part]['median']} / {r['latency'][part]['p95']}"

    row("turn latency alone, median / p95 (ms)", ms("quiet_ms"))
    row("during the 1,000 sign-ins, median / p95 (ms)", ms("loaded_ms"))
    row("1,000 sign-ins took (s)", lambda r: r["latency"]["flood_seconds"])
    row("turns measured, alone / during", lambda r: (
        f"{r['latency']['quiet_ms']['turns']} / {r['latency']['loaded_ms']['turns']}"))
    row("their answers", lambda r: ", ".join(
        f"{k}: {v}" for k, v in r["latency"]["statuses"].items()))
    row("200 concurrent guesses at one account: checked / refused", lambda r: (
        f"{r['attacks']['brute_force_200_concurrent']['checked']} / "
        f"{r['attacks']['brute_force_200_concurrent']['refused']}"))
    row("the nurse signing in after 10 guesses at her account from elsewhere", lambda r: (
        "signed in" if r["attacks"]["real_nurse_after_10_guesses_elsewhere"] == 200
        else f"refused ({r['attacks']['real_nurse_after_10_guesses_elsewhere']})"))
    row("a wrong password, unknown / known username, median (ms)", lambda r: (
        f"{r['attacks']['wrong_password_ms']['unknown_user']} / "
        f"{r['attacks']['wrong_password_ms']['known_user']}"))
    row("a locked account after invented usernames from the attacker", lambda r: (
        f"guess checked again after {r['attacks']['map_wipe']['invented_sent']:,}: wiped"
        if r["attacks"]["map_wipe"]["guess_answer"] != 429
        else f"still refused after {r['attacks']['map_wipe']['invented_sent']:,}"))
    row("tracebacks in the server log", lambda r: r["server_errors_logged"])
    last = runs[names[-1]].get("hash_costs") or {}
    if last:
        lines += ["", "One password hash on this machine (median), and how long another thread "
                  "stalls while two threads hash: a scheme that holds the GIL stalls the "
                  "event loop even from a thread pool.", "",
                  "| scheme | hash | stall p50 / max |", "|---|---|---|"]
        lines += [f"| {k} | {v['median_ms']} ms | {v['loop_stall_p50_ms']} / "
                  f"{v['loop_stall_max_ms']} ms |" for k, v in last.items()]
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
