"""`clinicline bench --only-sip`: the SIP front under INVITE floods and half-open calls.

Its own `clinicline serve` (echo dialog), SIPp as the attacker on 127.0.0.2, the patient
phone on 127.0.0.1. Measured: whether the server lives through each flood and keeps its log
free of pjsip assertions; a live call's turn latency before and during the flood; real calls
placed during and after it, answered or not; the server's CPU; how SIPp's calls were
answered; and how long four never-ACKed INVITEs hold the worker's slots. Results go to
docs/bench/sip_front.json and sip_front.md.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from clinicline.bench import SENTENCES, _ProcessSampler, percentile
from clinicline.harness import (
    FLOOD_SOURCE,
    ServerProcess,
    crash_lines,
    phone_call,
    sipp_counts,
    start_server,
    start_sipp,
)

# (INVITEs a second, seconds, source). The last comes from an address listed in
# sip_trusted_sources, as a proxy in front forwards everything: only the slots and its share
# of the media bound hold it, so the worker takes 3 of its calls a second and hangs them up.
TRUSTED_SOURCE = "127.0.0.4"
FLOODS = ((50, 60, FLOOD_SOURCE), (200, 60, FLOOD_SOURCE), (200, 60, TRUSTED_SOURCE))
PROBE_EVERY = 10.0  # a real call is placed this often during a flood
UNACKED_ROUNDS = 3
SIPP_SCENARIOS = Path(__file__).resolve().parent.parent / "tests" / "voice" / "sipp"


def _latencies(log: dict[str, Any]) -> list[float]:
    return [t["latency_ms"] for t in log.get("turns", []) if t.get("latency_ms")]


def _summary(values: list[float]) -> dict[str, Any]:
    return {
        "turns": len(values),
        "median_ms": round(statistics.median(values), 1) if values else None,
        "p95_ms": round(percentile(values, 0.95) or 0, 1) if values else None,
    }


async def _call(server: ServerProcess, *lines: str) -> dict[str, Any]:
    args = [a for line in lines for a in ("--say", line)]
    return await asyncio.to_thread(phone_call, server, *args, "--listen", "2", "--no-transcribe")


async def _flood(
    server: ServerProcess, work: Path, rate: int, seconds: int, source: str
) -> dict[str, Any]:
    sampler = _ProcessSampler(server.process.pid)
    refused_before = server.health()["components"]["workers"]["invites_refused"]
    live = asyncio.create_task(_call(server, *SENTENCES))
    await asyncio.sleep(5)
    cpu0, t0 = sampler.cpu_seconds(), time.monotonic()
    flood = start_sipp(
        server, work, rate=rate, calls=rate * seconds, source=source, timeout=seconds + 30
    )
    probes = []
    while time.monotonic() - t0 < seconds:
        probes.append(await _call(server, "what time do you open tomorrow"))
        sampler.sample_rss()
        await asyncio.sleep(max(0.0, PROBE_EVERY - 8))
    cpu = (sampler.cpu_seconds() - cpu0) / (time.monotonic() - t0)
    await asyncio.to_thread(flood.wait, seconds + 60)
    live_log = await live
    after = await _call(server, "is my insurance still on file with you")
    alive = server.process.poll() is None
    log = server.log()
    refused = server.health()["components"]["workers"]["invites_refused"] if alive else {}
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "source": source,
        "trusted": source == TRUSTED_SOURCE,
        "server_alive": alive,
        "crash_lines": crash_lines(log),
        "live_call": {
            "completed": bool(live_log.get("connected")),
            **_summary(_latencies(live_log)),
        },
        "calls_during": {"placed": len(probes), "answered": sum(p["connected"] for p in probes)},
        "call_after_answered": bool(after.get("connected")),
        "server_cpu_cores": round(cpu, 3),
        "server_peak_rss_mb": round(sampler.peak_rss_mb, 1),
        "sipp": sipp_counts(work),
        "worker_refusals": {k: refused.get(k, 0) - refused_before[k] for k in refused_before},
    }


async def _unacked(server: ServerProcess, work: Path) -> dict[str, Any]:
    """Four INVITEs never ACKed fill the echo worker's 4 slots: time until they are free."""
    freed: list[float] = []
    for round_no in range(UNACKED_ROUNDS):
        round_dir = work / f"unacked-{round_no}"
        round_dir.mkdir(exist_ok=True)
        attack = start_sipp(
            server, round_dir, rate=20, calls=4,
            scenario=SIPP_SCENARIOS / "invite_never_ack.xml", timeout=60,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while server.health()["components"]["workers"]["state"] != "degraded":
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        full_at = time.monotonic()
        while server.health()["status"] != "ready" and time.monotonic() - full_at < 60:
            await asyncio.sleep(0.05)
        freed.append(round(time.monotonic() - full_at, 2))
        await asyncio.to_thread(attack.wait, 60)
    answered = await _call(server, "can I book an appointment with doctor Patel")
    return {
        "rounds": UNACKED_ROUNDS,
        "seconds_to_free_slots": freed,
        "median_s": statistics.median(freed),
        "call_after_answered": bool(answered.get("connected")),
    }


async def bench_sip_front() -> dict[str, Any]:
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        server = start_server(
            work, data_dir=Path("var/bench-data").resolve(), dialog="echo",
            env={"CLINICLINE_SIP_TRUSTED_SOURCES": TRUSTED_SOURCE},
        )  # fmt: skip
        try:
            server.wait_ready()
            results["baseline_live_call"] = _summary(_latencies(await _call(server, *SENTENCES)))
            results["floods"] = []
            for rate, seconds, source in FLOODS:
                flood_dir = work / f"flood-{rate}-{source}"
                flood_dir.mkdir()
                outcome = await _flood(server, flood_dir, rate, seconds, source)
                results["floods"].append(outcome)
                if not outcome["server_alive"]:
                    break
            else:
                results["unacked"] = await _unacked(server, work)
        finally:
            results["server_exit_code"] = server.stop()
    return results


def markdown(results: dict[str, Any]) -> str:
    base = results["baseline_live_call"]
    lines = [
        "# The SIP front under floods",
        "",
        f"Run {results['date']} with `clinicline bench --only-sip`: one `clinicline serve` "
        "(echo dialog), SIPp's `uac` scenario as the attacker from 127.0.0.2 (INVITE, ACK, "
        "BYE at once), the patient phone from 127.0.0.1. A live call talks through each "
        f"flood; a new real call is placed every {PROBE_EVERY:.0f} s during it, one after.",
        "",
        f"Live call without a flood: median turn latency {base['median_ms']} ms, "
        f"p95 {base['p95_ms']} ms ({base['turns']} turns).",
        "",
        "| flood | server alive, no assertion | live call (median / p95) | calls answered "
        "during | after | server CPU | SIPp: completed / refused / unanswered |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in results["floods"]:
        live, sipp, during = f["live_call"], f["sipp"], f["calls_during"]
        trusted = " from a trusted source" if f.get("trusted") else ""
        lines.append(
            f"| {f['rate_per_s']}/s for {f['seconds']} s{trusted} "
            f"| {'yes' if f['server_alive'] and not f['crash_lines'] else 'NO'} "
            f"| {live['median_ms']} / {live['p95_ms']} ms "
            f"| {during['answered']}/{during['placed']} "
            f"| {'yes' if f['call_after_answered'] else 'no'} "
            f"| {f['server_cpu_cores']} cores "
            f"| {sipp['successful']} / {sipp['refused']} / {sipp['unanswered']} |"
        )
    if "unacked" in results:
        u = results["unacked"]
        after = "answered" if u["call_after_answered"] else "NOT answered"
        lines += [
            "",
            f"Four INVITEs never ACKed (tests/voice/sipp/invite_never_ack.xml) filled the "
            f"worker; its slots were free again after {u['median_s']} s (median of "
            f"{u['rounds']}: {u['seconds_to_free_slots']}; pjsip alone holds them 32 s). "
            f"A real call afterwards: {after}.",
        ]
    lines += [
        "",
        "A trusted source (`sip_trusted_sources`, the proxy in front) has no per-source rate: "
        "the call slots and its share of the media set-up bound (3 of the 4 a second) hold "
        "its flood back, so the worker answers and hangs up 3 of its calls a second and "
        "keeps one set-up a second for everyone else.",
        "",
        "SIPp counts a refusal (503 + Retry-After, or 486) as an unexpected message; an "
        "unanswered call is one the worker dropped without a word (a source over its rate is "
        "answered once a second). The worker's own counters are in sip_front.json.",
        "",
    ]
    return "\n".join(lines)


async def run_bench_sip(out: Path) -> dict[str, Any]:
    results = await bench_sip_front()
    out.mkdir(parents=True, exist_ok=True)
    (out / "sip_front.json").write_text(json.dumps(results, indent=2))
    (out / "sip_front.md").write_text(markdown(results))
    print(markdown(results))
    return results
