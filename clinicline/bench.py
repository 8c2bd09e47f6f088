"""`clinicline bench`: turn latency, recognition error, CPU and memory, measured on real calls.

It starts its own `clinicline serve` (echo dialog: the voice path alone, no Rasa) and places
N concurrent calls with the simulated patient phone, each speaking clinic sentences. Latency
is what a caller experiences: from the end of their speech to the first bot audio packet.
Word error compares what each phone said with what the server transcribed. A second part
times dialog turns through the real Rasa server at 1 and 8 concurrent conversations.
Results go to docs/bench/ as JSON, Markdown and a PNG plot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clinicline.config import Config

SENTENCES = (
    "I need a refill of my metformin please",
    "can I book an appointment with doctor Patel next week",
    "my daughter has a cough and a runny nose since Monday",
    "what time does the clinic open on Saturday",
    "I would like to cancel my appointment on Thursday",
    "is my insurance still on file with you",
    "I have a question about my blood test results",
    "can somebody call me back this afternoon",
)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class _ProcessSampler:
    """CPU seconds and resident memory of one process (and its children) from /proc."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_rss_mb = 0.0

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime + stime
        return ticks / 100.0

    def sample_rss(self) -> None:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                self.peak_rss_mb = max(self.peak_rss_mb, int(line.split()[1]) / 1024)


async def phone_call_log(
    uri: str, db: str, lines: list[str], voice: str, env: dict[str, str]
) -> dict[str, Any]:
    args = [
        sys.executable,
        "-m",
        "clinicline.cli",
        "call",
        "--to",
        uri,
        "--db",
        db,
        "--voice",
        voice,
        "--no-transcribe",
        "--listen",
        "2",
    ]
    for line in lines:
        args += ["--say", line]
    args += ["--say", "goodbye"]
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    )
    out, _ = await proc.communicate()
    text = out.decode()
    return json.loads(text[text.index("{") :]) if "{" in text else {"turns": [], "connected": False}


async def _caller_turns(db: str, call_id: str) -> list[str]:
    from integrations.services.call_report import call_report
    from integrations.store import Database

    store = await Database.connect(db)
    try:
        async with store.session() as s:
            report = await call_report(s, call_id)
        return [t["text"] for t in report["turns"] if t["speaker"] == "caller"]
    finally:
        await store.dispose()


async def bench_voice(levels: list[int], turns: int, voices: list[str]) -> dict[str, Any]:
    from clinicline.harness import start_server  # the same harness the call tests use
    from voice.asr.wer import word_error_rate

    results: dict[str, Any] = {"levels": {}, "wer": {}}
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp), data_dir=Path("var/bench-data").resolve(), dialog="echo")
        try:
            server.wait_ready()
            sampler = _ProcessSampler(server.process.pid)
            idle_cpu = sampler.cpu_seconds()
            await asyncio.sleep(5)
            idle_rate = (sampler.cpu_seconds() - idle_cpu) / 5
            sampler.sample_rss()
            results["idle"] = {
                "cpu_core_fraction": round(idle_rate, 3),
                "rss_mb": round(sampler.peak_rss_mb, 1),
            }
            pairs: dict[str, list[tuple[str, str]]] = {v: [] for v in voices}
            for n in levels:
                cpu0, wall0 = sampler.cpu_seconds(), time.monotonic()
                jobs = []
                for i in range(n):
                    lines = [SENTENCES[(i + k) % len(SENTENCES)] for k in range(turns)]
                    jobs.append(
                        phone_call_log(
                            server.uri, server.db_url, lines, voices[i % len(voices)], server.env
                        )
                    )
                task = asyncio.gather(*jobs)
                while not task.done():
                    sampler.sample_rss()
                    await asyncio.sleep(0.5)
                logs = task.result()
                wall = time.monotonic() - wall0
                cpu = sampler.cpu_seconds() - cpu0
                latencies = [
                    t["latency_ms"]
                    for log in logs
                    for t in log["turns"][:-1]
                    if t.get("latency_ms")
                ]
                for i, log in enumerate(logs):
                    if not log.get("call_id"):
                        continue
                    said = [t["said"] for t in log["turns"][:-1]]
                    heard = await _caller_turns(server.db_url, log["call_id"])
                    pairs[voices[i % len(voices)]].extend(zip(said, heard, strict=False))
                results["levels"][str(n)] = {
                    "calls": n,
                    "calls_connected": sum(1 for log in logs if log.get("connected")),
                    "turns_measured": len(latencies),
                    "latency_ms_median": percentile(latencies, 0.5),
                    "latency_ms_p95": percentile(latencies, 0.95),
                    "latency_ms": latencies,
                    "cpu_core_fraction": round(cpu / wall, 3),
                    "cpu_core_fraction_per_call": round(cpu / wall / n, 3),
                    "peak_rss_mb": round(sampler.peak_rss_mb, 1),
                }
            for voice, voice_pairs in pairs.items():
                score = word_error_rate(voice_pairs)
                results["wer"][voice] = {
                    "utterances": len(voice_pairs),
                    "wer": round(score.rate, 4),
                }
        finally:
            server.stop()
    return results


async def bench_dialogs(config: Config, levels: list[int], turns: int) -> dict[str, Any]:
    """Dialog turns through the real Rasa server (REST channel, no actions needed)."""
    from clinicline.harness import free_port
    from dialogs.client import RasaClient
    from dialogs.server import RasaServer
    from dialogs.train import ensure_model

    model = await asyncio.to_thread(ensure_model, config.dialogs_dir)
    port = free_port()
    token = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory() as tmp:
        server = RasaServer(
            model, port=port, action_url="http://127.0.0.1:9/webhook", run_dir=Path(tmp),
            api_token=token, action_token=secrets.token_urlsafe(32),
        )
        await server.start()
        try:
            await server.wait_ready()
            client = RasaClient(server.base_url, token=token, timeout=60)
            out: dict[str, Any] = {}
            for n in levels:
                times: list[float] = []

                async def conversation(i: int, n: int = n, times: list[float] = times) -> None:
                    for k in range(turns):
                        t0 = time.perf_counter()
                        await client.send(f"bench-{n}-{i}", SENTENCES[(i + k) % len(SENTENCES)], {})
                        times.append((time.perf_counter() - t0) * 1000)

                await asyncio.gather(*(conversation(i) for i in range(n)))
                out[str(n)] = {
                    "turns": len(times),
                    "median_ms": round(statistics.median(times), 1),
                    "p95_ms": round(percentile(times, 0.95) or 0, 1),
                }
            await client.close()
            return out
        finally:
            await server.stop()


async def bench_clinic(
    scripts: list[Path], repeats: int, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """The product dialog end to end: the scripted patient calls against `serve` (demo clinic,
    real Rasa), one call at a time, turn latency as the calling phone measures it. `env`:
    settings of the server (CLINICLINE_* overrides)."""
    from clinicline.harness import ROOT, free_port, start_server
    from voice.asr.wer import word_error_rate

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite+aiosqlite:///{Path(tmp) / 'clinic.db'}"
        subprocess.run(
            [sys.executable, "-m", "clinicline.cli", "seed", "--demo", "--db", db_url],
            cwd=ROOT, capture_output=True, timeout=300, check=True,
        )  # fmt: skip
        server = start_server(
            Path(tmp), data_dir=Path("var/bench-data").resolve(), dialog="clinic",
            db_url=db_url, extra_args=["--rasa-port", str(free_port())], env=env,
        )  # fmt: skip
        try:
            server.wait_ready(timeout=900, want=("ready",))
            for script in scripts:
                times: list[float] = []
                said = heard = 0  # a latency means little if the caller's words were lost
                pairs: list[tuple[str, str]] = []  # what the phone said, what the record holds
                for _ in range(repeats):
                    proc = await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "clinicline.cli", "call", "--to", server.uri,
                        "--db", server.db_url, "--script", str(script), "--no-transcribe",
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=server.env,
                    )  # fmt: skip
                    text = (await proc.communicate())[0].decode()
                    log = json.loads(text[text.index("{") :]) if "{" in text else {"turns": []}
                    times += [t["latency_ms"] for t in log["turns"] if t.get("latency_ms")]
                    said += len(log["turns"])
                    if log.get("call_id"):
                        texts = await _caller_turns(server.db_url, log["call_id"])
                        heard += len(texts)
                        if len(texts) == len(log["turns"]):  # line for line: comparable
                            said_lines = [t["said"] for t in log["turns"]]
                            pairs += list(zip(said_lines, texts, strict=True))
                out[script.stem] = {
                    "calls": repeats,
                    "turns": len(times),
                    "caller_turns_said": said,
                    "caller_turns_heard": heard,
                    "median_ms": round(statistics.median(times), 1) if times else None,
                    "p95_ms": round(percentile(times, 0.95) or 0, 1),
                    # Numbers count as errors when written as digits ("1972"): compare runs.
                    "wer_pct": round(word_error_rate(pairs).rate * 100, 1) if pairs else None,
                }
        finally:
            server.stop()
    return out


def write_report(
    out: Path, stem: str, results: dict[str, Any], render: Callable[[dict[str, Any]], str]
) -> int:
    """Stamp an off-line bench's results with when, on what and which code they ran; write
    OUT/stem.json and OUT/stem.md (`render`) and print the markdown."""
    import os

    results.update(
        date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        machine=f"{len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}",
        code=code_version(),
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    text = render(results)
    (out / f"{stem}.md").write_text(text)
    print(text)
    return 0


def code_version() -> str:
    """The commit measured, marked -dirty when the tree had changes."""
    done = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True,
                          text=True, check=False, cwd=Path(__file__).resolve().parent)
    return done.stdout.strip()


def _plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = results["voice"]["levels"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.boxplot(
        [levels[k]["latency_ms"] for k in levels], tick_labels=[f"{k} call(s)" for k in levels]
    )
    ax.axhline(700, linestyle="--", linewidth=1, label="700 ms target")
    ax.set_ylabel("end of caller speech → first bot audio (ms)")
    ax.set_title("Turn latency over real SIP calls (whisper tiny.en, Piper)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Run {results['date']} on {m['cpus']} cores, {m['python']}, {m['platform']}. "
        "Shared machine: figures are medians and ratios, not limits.",
        "",
        "## Voice path (echo dialog, real SIP calls, whisper tiny.en + Piper)",
        "",
        "| concurrent calls | turns | median latency | p95 latency "
        "| CPU (cores) | CPU per call | peak RSS |",
        "|---|---|---|---|---|---|---|",
    ]
    for k, v in results["voice"]["levels"].items():
        lines.append(
            f"| {k} | {v['turns_measured']} | {v['latency_ms_median']} ms "
            f"| {v['latency_ms_p95']} ms | {v['cpu_core_fraction']} "
            f"| {v['cpu_core_fraction_per_call']} | {v['peak_rss_mb']} MB |"
        )
    idle = results["voice"]["idle"]
    lines += [
        "",
        f"Idle server: {idle['cpu_core_fraction']} cores, {idle['rss_mb']} MB RSS.",
        "",
        "Latency is measured by the calling phone: from the end of its speech to the first "
        "bot audio packet it receives.",
        "",
        "### Recognition word error (server transcripts)",
        "",
        "| caller voice | utterances | WER |",
        "|---|---|---|",
    ]
    for voice, w in results["voice"]["wer"].items():
        lines.append(f"| {voice} | {w['utterances']} | {w['wer']:.1%} |")
    if "dialogs" in results:
        lines += [
            "",
            "## Dialog turns through the Rasa server (REST channel)",
            "",
            "| concurrent conversations | turns | median | p95 |",
            "|---|---|---|---|",
        ]
        for k, v in results["dialogs"].items():
            lines.append(f"| {k} | {v['turns']} | {v['median_ms']} ms | {v['p95_ms']} ms |")
    if "clinic" in results:
        lines += [
            "",
            "## The product dialog over SIP (scripted patient calls, demo clinic, real Rasa)",
            "",
            "| script | calls | turns | median latency | p95 latency |",
            "|---|---|---|---|---|",
        ]
        for k, v in results["clinic"].items():
            lines.append(
                f"| {k} | {v['calls']} | {v['turns']} | {v['median_ms']} ms | {v['p95_ms']} ms |"
            )
        lines += [
            "",
            f"Run {results.get('clinic_run', results['date'])}, one call at a time; the "
            "dialogs' fixed reply pieces are pre-rendered at start-up, replies with names and "
            "dates are synthesised live.",
        ]
    if "signin" in results:
        from clinicline.bench_signin import markdown

        lines += markdown(results["signin"])
    lines += [
        "",
        "The SIP front under INVITE floods: [sip_front.md](sip_front.md) "
        "(`clinicline bench --only-sip`).",
        "",
        "Concurrent callers through Kamailio to several workers, and the soak: "
        "[load.md](load.md) (`clinicline bench --load`).",
        "",
        "Hard names heard once, and again with the patients born on the caller's date of birth "
        "as hints: [names.md](names.md) (`clinicline bench --names`).",
        "",
        "Surnames spelled letter by letter, heard freely and held to the surnames of the "
        "patients born that day, with impostor spellings: [spelling.md](spelling.md) "
        "(`clinicline bench --spelling`).",
        "",
        "Dates of birth said in words, heard freely and held to dates, on development and "
        "held-out voices: [dates.md](dates.md) (`clinicline bench --dates`).",
        "",
        "When a caller's turn ends (pauses mid-sentence, how soon a finished turn ends, the "
        "scripted calls before and now): [turns.md](turns.md) (`clinicline bench "
        "--turn-taking`).",
        "",
        "![turn latency](latency.png)",
        "",
    ]
    return "\n".join(lines)


async def run_bench(args: argparse.Namespace, config: Config) -> int:
    levels = [int(x) for x in (args.calls or "1,4").split(",") if x.strip()]
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {
            "cpus": len(__import__("os").sched_getaffinity(0)),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    if args.only_sip:
        from clinicline.bench_sip import run_bench_sip

        await run_bench_sip(out)
        return 0
    calls_dir = Path(__file__).resolve().parents[2] / "shared" / "eval" / "calls"
    scripts = [calls_dir / name for name in ("refill.yaml", "schedule.yaml")]
    if args.only_signin:
        from clinicline.bench_signin import bench_signin

        # Keep the other sections and the earlier runs (e.g. "before", from an older checkout).
        previous = out / "results.json"
        if previous.exists():
            results = {**json.loads(previous.read_text()), "signin_run": results["date"]}
        run = await bench_signin(Path(__file__).resolve().parent.parent)
        run.update(date=results.get("signin_run", results["date"]), code=code_version())
        results.setdefault("signin", {"runs": {}})["runs"]["after"] = run
    elif args.only_clinic:
        # Keep the last full run's other sections; replace the product-dialog one.
        previous = out / "results.json"
        if previous.exists():
            results = {**json.loads(previous.read_text()), "clinic_run": results["date"]}
        results["clinic"] = await bench_clinic(scripts, repeats=3)
    else:
        results["voice"] = await bench_voice(levels, args.turns, ["piper", "flite"])
        if not args.skip_dialogs:
            results["dialogs"] = await bench_dialogs(config, [1, 8], args.turns)
            if all(script.exists() for script in scripts):
                results["clinic"] = await bench_clinic(scripts, repeats=3)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    _plot(results, out / "latency.png")
    (out / "README.md").write_text(_markdown(results))
    print(_markdown(results))
    return 0
