"""The `clinicline` command: serve, call, seed, calls, triage, nlu, bench."""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from clinicline.config import Config, load_config
from clinicline.errors import ClinicLineError


def _add_common(parser: argparse.ArgumentParser, *, sip: bool = False, http: bool = False) -> None:
    parser.add_argument("--config", type=Path, help="TOML config file (or CLINICLINE_CONFIG)")
    parser.add_argument("--db", help="store URL, e.g. sqlite+aiosqlite:///var/clinicline.db")
    if sip:
        parser.add_argument("--sip", help="SIP listen address HOST:PORT (default 127.0.0.1:5060)")
    if http:
        parser.add_argument("--http", help="web listen address HOST:PORT (default 127.0.0.1:8080)")


def _config(args: argparse.Namespace) -> Config:
    overrides = {
        "db": getattr(args, "db", None),
        "sip": getattr(args, "sip", None),
        "sip_front": getattr(args, "join", None),
        "http": getattr(args, "http", None),
    }
    for name in ("asr_engine", "vosk_model_dir", "rasa_port", "ehr"):
        if getattr(args, name, None) is not None:
            overrides[name] = getattr(args, name)
    if getattr(args, "no_rasa", False):
        overrides["rasa_enabled"] = False
    if getattr(args, "app_only", False):
        overrides["app_only"] = True
    return load_config(getattr(args, "config", None), overrides=overrides)


class _Step(argparse.Action):
    """Keeps --say/--play/--dtmf in the order given, in one list."""

    def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[no-untyped-def]
        steps = list(getattr(namespace, self.dest, None) or [])
        steps.append((str(option_string).lstrip("-"), values))
        setattr(namespace, self.dest, steps)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clinicline",
        description="The clinic's phone line: answers, triages, verifies, books and transfers.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the voice worker, the web app and the dialogs server")
    _add_common(serve, sip=True, http=True)
    serve.add_argument(
        "--asr-engine", choices=["auto", "vosk", "whisper"], help="speech recogniser"
    )
    serve.add_argument("--vosk-model-dir", type=Path, help="Vosk model directory")
    serve.add_argument("--rasa-port", type=int, help="port of the supervised Rasa server")
    serve.add_argument(
        "--ehr",
        help="the clinic's EHR as the source of truth, fhir+http(s)://host/fhir "
        "(token: CLINICLINE_EHR_TOKEN); default: the local store",
    )
    serve.add_argument(
        "--no-rasa", action="store_true", help="do not start Rasa (keypad menu only)"
    )
    serve.add_argument(
        "--workers",
        type=int,
        help="voice workers (default: 1 on SQLite; on PostgreSQL what this machine's cores "
        "carry, at least 2). N > 1: Kamailio on the SIP address in front of N workers on the "
        "next ports, sharing a PostgreSQL store (--db postgresql://…); 0: Kamailio alone, in "
        "front of the workers other machines run with --join",
    )
    serve.add_argument(
        "--app-only", action="store_true",
        help="an app process: the web app, agents' consoles, routing and supervisors' views, "
        "no voice worker (needs --db postgresql://…, shared with the workers)",
    )
    serve.add_argument(
        "--join",
        metavar="HOST:PORT",
        help="run --workers N workers on this machine's --sip address behind the SIP front "
        "(`serve --workers 0`) at HOST:PORT, sharing its --db (or CLINICLINE_SIP_FRONT)",
    )
    serve.add_argument(
        "--dialog",
        choices=["clinic", "echo", "triage-probe"],
        default="clinic",
        help="'clinic' (triage + Rasa, the product), 'echo' (repeats the caller; audio checks) "
        "or 'triage-probe' (logs each transcript's triage to $CLINICLINE_TRIAGE_PROBE_LOG; "
        "benchmarks)",
    )

    call = sub.add_parser("call", help="call the clinic as a simulated patient (a real SIP client)")
    _add_common(call)
    call.add_argument("--to", default="sip:clinic@127.0.0.1:5060", help="SIP URI to call")
    call.add_argument("--script", type=Path, help="YAML call script (shared/eval/calls format)")
    call.add_argument("--say", action=_Step, dest="steps", metavar="TEXT", help="speak a line")
    call.add_argument("--play", action=_Step, dest="steps", metavar="WAV", help="play a WAV file")
    call.add_argument("--dtmf", action=_Step, dest="steps", metavar="DIGITS", help="key digits")
    call.add_argument(
        "--wait", action=_Step, dest="steps", metavar="S", help="stay quiet S seconds"
    )
    call.add_argument(
        "--wait-for",
        action=_Step,
        dest="steps",
        metavar="S:FILE",
        help="stay quiet until FILE exists, at most S seconds (a test's signal to go on; the "
        "line before it does not wait for the bot to finish)",
    )
    call.add_argument(
        "--barge",
        action=_Step,
        dest="steps",
        metavar="S:TEXT",
        help="speak TEXT S seconds into the bot's next words, without waiting for it to finish",
    )
    call.add_argument(
        "--say-after",
        action=_Step,
        dest="steps",
        metavar="S:TEXT",
        help="speak TEXT S seconds after the previous step, whatever the line is doing",
    )
    call.add_argument("--info-dtmf", action="store_true", help="send digits as SIP INFO")
    call.add_argument(
        "--refuse-refer",
        action="store_true",
        help="answer a REFER (call transfer) with 603 instead of following it",
    )
    call.add_argument("--caller", help="caller number to present (default: the script's)")
    call.add_argument("--voice", choices=["piper", "espeak", "flite"], default="piper")
    call.add_argument("--record", type=Path, help="write what the phone heard to this WAV")
    call.add_argument("--no-transcribe", action="store_true", help="skip transcribing the bot")
    call.add_argument("--check", action="store_true", help="compare the call record with expect:")
    call.add_argument(
        "--barge-in-after",
        type=float,
        metavar="S",
        help="speak the first line S seconds into the greeting (barge-in)",
    )
    call.add_argument(
        "--hangup-after", type=float, metavar="S", help="hang up S seconds after answer"
    )
    call.add_argument(
        "--turn-max",
        type=float,
        metavar="S",
        help="wait at most S seconds for the bot to finish a reply (hold music never finishes)",
    )
    call.add_argument(
        "--listen",
        type=float,
        default=20.0,
        metavar="S",
        help="after the last line, listen up to S seconds for the bot to finish",
    )

    agent = sub.add_parser("answer", help="a test agent/nurse phone that answers transferred calls")
    agent.add_argument(
        "--listen", default="127.0.0.1:5070", help="SIP address HOST:PORT to answer on"
    )
    agent.add_argument("--user", default="nurse1", help="SIP user part")
    agent.add_argument("--answer-after", type=float, default=1.0, metavar="S")
    agent.add_argument("--mode", choices=["answer", "decline", "ignore"], default="answer")
    agent.add_argument("--say", default="", help="what the agent says once connected")
    agent.add_argument("--stay", type=float, default=12.0, metavar="S", help="seconds on the call")
    agent.add_argument("--calls", type=int, default=1, help="calls to take before exiting")
    agent.add_argument(
        "--accept-key",
        default="1",
        help="key pressed after the whispered summary to take the call ('none': never)",
    )
    agent.add_argument(
        "--accept-after",
        type=float,
        metavar="S",
        help="press the accept key S seconds after answering, not when the summary ends",
    )
    agent.add_argument(
        "--refuse-replaces",
        action="store_true",
        help="answer an INVITE with Replaces (attended transfer) with 403",
    )
    agent.add_argument("--timeout", type=float, default=120.0, metavar="S")
    agent.add_argument("--no-transcribe", action="store_true")

    seed = sub.add_parser("seed", help="load the demo clinic or a FHIR R4 bundle into the store")
    _add_common(seed)
    seed.add_argument("--demo", action="store_true", help="load the demo clinic")
    seed.add_argument(
        "--staff-port",
        type=int,
        help="the demo staff's desk phones answer at 127.0.0.1:PORT and up, one port each "
        "(default 5070: front1 5070 ... nurse1 5074 ... super1 5076)",
    )
    seed.add_argument("--patients", type=Path, help="FHIR R4 Bundle (JSON) to import")
    seed.add_argument(
        "--ehr",
        help="then write what the store holds to this EHR, fhir+http(s)://host/fhir "
        "(token: CLINICLINE_EHR_TOKEN), so `serve --ehr` works against the same records",
    )

    staff = sub.add_parser("staff", help="staff accounts: add one, or reset a password")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    add = staff_sub.add_parser("add", help="a new account with a one-time password")
    add.add_argument("username")
    add.add_argument("--name", default="", help="the person's name")
    add.add_argument("--role", choices=["agent", "nurse", "supervisor"], default="agent")
    add.add_argument("--skills", default="", help="comma-separated queue skills")
    add.add_argument("--sip-uri", default="", help="SIP URI of the person's phone")
    add.add_argument("--may-publish", action="store_true",
                     help="may publish the call flow's wording in the console (administrators)")
    reset = staff_sub.add_parser("reset", help="a new one-time password for an account")
    reset.add_argument("username")
    for p in (add, reset):
        _add_common(p)

    campaign = sub.add_parser(
        "campaign", help="outbound campaigns: create, start, pause, status, export"
    )
    from clinicline.outbound.arguments import add_campaign_arguments

    for p in add_campaign_arguments(campaign):
        _add_common(p)

    callees = sub.add_parser(
        "callees", help="simulated patients' phones answering campaign calls (tests, demos)"
    )
    from voice.phone.arguments import add_callees_arguments

    add_callees_arguments(callees)

    calls = sub.add_parser("calls", help="show call records")
    calls_sub = calls.add_subparsers(dest="calls_command", required=True)
    show = calls_sub.add_parser("show", help="one call's record")
    show.add_argument("call_id")
    last = calls_sub.add_parser("last", help="the most recent call's record")
    for p in (show, last):
        _add_common(p)
        p.add_argument("--json", action="store_true", help="print JSON (the default)")
    recording = calls_sub.add_parser(
        "recording", help="write a call's recording (stereo WAV: caller, what she heard); audited"
    )
    recording.add_argument("call_id")
    recording.add_argument("--out", type=Path, required=True, metavar="FILE.wav")
    _add_common(recording)

    triage = sub.add_parser("triage", help="red-flag triage of utterances")
    triage.add_argument("--jsonl", action="store_true", help="one utterance per stdin line -> JSON")
    triage.add_argument("--lexicon", type=Path, help="lexicon file (default: the built-in)")
    triage.add_argument(
        "--lexicon-only",
        action="store_true",
        help="skip the semantic safety net (what partial transcripts get)",
    )
    triage.add_argument(
        "--answering",
        action="store_true",
        help="judge each line as an answer to the name or date-of-birth question",
    )
    triage.add_argument(
        "--prepare",
        action="store_true",
        help="load the safety net and embed its bank now (kept on disk for every process), exit",
    )

    nlu = sub.add_parser("nlu", help="intent and entities of utterances via the Rasa server")
    nlu.add_argument("--jsonl", action="store_true", help="one utterance per stdin line -> JSON")
    _add_common(nlu)
    nlu.add_argument("--rasa-port", type=int)

    bench = sub.add_parser("bench", help="measure turn latency, ASR error, CPU and memory")
    _add_common(bench)
    bench.add_argument("--out", type=Path, default=Path("docs/bench"))
    bench.add_argument(
        "--calls", help="concurrency levels, e.g. 1,4 (default 1,4; with --load 1,4,8,12,16)"
    )
    bench.add_argument("--turns", type=int, default=4, help="caller turns per call")
    bench.add_argument("--skip-dialogs", action="store_true", help="skip the Rasa part")
    bench.add_argument(
        "--only-clinic", action="store_true", help="only the product dialog over SIP (Rasa)"
    )
    bench.add_argument(
        "--only-sip",
        action="store_true",
        help="only the SIP front under INVITE floods (~6 min) -> OUT/sip_front.md",
    )
    bench.add_argument(
        "--only-signin", action="store_true",
        help="only a live call's latency during 1,000 sign-ins, and the sign-in attacks",
    )
    bench.add_argument(
        "--triage-speech",
        action="store_true",
        help="speak the emergent triage lines in three voices through real calls "
        "(resumable: results accumulate in OUT/triage_speech.json)",
    )
    bench.add_argument(
        "--campaign", action="store_true",
        help="a reminder campaign of 20 patients against test phones, end to end "
        "(real calls, ~15 min) -> OUT/campaign.md",
    )
    bench.add_argument(
        "--amd", action="store_true",
        help="answering-machine detection on human and voicemail greetings in several voices "
        "(off-line) -> OUT/amd.md",
    )
    bench.add_argument(
        "--names", action="store_true",
        help="hard names heard once and again with the date of birth's patients as hints "
        "(off-line, several voices) -> OUT/names.md",
    )  # fmt: skip
    bench.add_argument(
        "--dates", action="store_true",
        help="dates of birth said in words, heard as a call hears them: free and held to "
        "dates, development and held-out sets (off-line, several voices) -> OUT/dates.md",
    )  # fmt: skip
    bench.add_argument(
        "--when", action="store_true",
        help="days and times said as answers to 'what day suits you?', heard as a call hears "
        "them: before, with day words, then held to days (off-line, several voices) "
        "-> OUT/when.md",
    )  # fmt: skip
    bench.add_argument(
        "--spelling", action="store_true",
        help="surnames spelled letter by letter, heard free and held to the surnames of the "
        "patients born that day; impostor spellings (off-line, several voices) "
        "-> OUT/spelling.md",
    )  # fmt: skip
    bench.add_argument(
        "--turn-taking", action="store_true",
        help="callers cut off by mid-sentence pauses and how soon turns end, before and now "
        "(off-line), then the scripted calls' turn latency both ways -> OUT/turns.md",
    )  # fmt: skip
    bench.add_argument("--no-calls", action="store_true", help="for --turn-taking: off-line only")
    bench.add_argument(
        "--load", action="store_true",
        help="concurrent callers through Kamailio in front of --workers workers on a fresh "
        "PostgreSQL database -> OUT/load.md",
    )  # fmt: skip
    bench.add_argument("--workers", type=int, default=4, help="for --load")
    bench.add_argument(
        "--soak", type=int, default=0, metavar="N",
        help="for --load: N calls, the first --calls level at a time; memory slope per kind",
    )  # fmt: skip
    bench.add_argument(
        "--no-rasa", action="store_true", help="for --load: the keypad dialog, no Rasa servers"
    )
    bench.add_argument("--voices", default="piper,flite,espeak", help="for --triage-speech")
    bench.add_argument("--lines-per-call", type=int, default=12, help="for --triage-speech")
    bench.add_argument(
        "--heldout-every", type=int, default=1, metavar="N",
        help="for --triage-speech: every N-th emergent line of the held-out set (1: all)",
    )  # fmt: skip
    bench.add_argument(
        "--budget-minutes", type=float, default=10.0, help="for --triage-speech: stop after"
    )
    bench.add_argument(
        "--training", action="store_true",
        help="the Flows area's training loop: add phrasings, train, evaluate, publish (~15 min)",
    )  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Everything the product writes (the store, keys, recordings, prompt cache, logs, Rasa's
    # files) is for the service user alone; the store also enforces this on its own files.
    os.umask(0o077)
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Library chatter at INFO drowns what an operator needs to see; rasa_sdk logs slot
    # values (names, dates of birth) at DEBUG, so it stays quiet even with --verbose.
    for noisy in ("alembic", "aiosqlite", "asyncio", "faster_whisper", "rasa_sdk"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return _dispatch(args)
    except ClinicLineError as exc:
        print(f"clinicline: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "serve":
        from clinicline.cluster import default_workers

        # A native abort (pjsip, CTranslate2, onnxruntime) leaves every thread's Python stack
        # in the log: file, function and line only, never a value, so no PHI.
        faulthandler.enable(file=sys.stderr, all_threads=True)

        config = _config(args)
        workers = args.workers
        if workers is None:
            workers = default_workers(config, len(os.sched_getaffinity(0)))
        if config.app_only:
            from clinicline.server import serve_process

            return serve_process(config, dialog=args.dialog)
        if workers != 1 or config.sip_front:
            from clinicline.cluster import Cluster, passthrough_args

            passthrough = passthrough_args(args)
            cluster = Cluster(config, workers, dialog=args.dialog, passthrough=passthrough)
            return asyncio.run(cluster.run())
        from clinicline.server import serve_process

        return serve_process(config, dialog=args.dialog)
    if args.command == "call":
        from clinicline.calling import run_call

        return asyncio.run(run_call(args, _config(args)))
    if args.command == "answer":
        from clinicline.calling import run_answer

        return asyncio.run(run_answer(args, _config(args)))
    if args.command == "seed":
        from clinicline.records import seed

        return asyncio.run(
            seed(_config(args), demo=args.demo, patients=args.patients, staff_port=args.staff_port)
        )
    if args.command == "staff":
        from clinicline.staff import add_staff, reset_password

        if args.staff_command == "reset":
            return asyncio.run(reset_password(_config(args), args.username))
        skills = tuple(x.strip() for x in args.skills.split(",") if x.strip())
        return asyncio.run(
            add_staff(_config(args), args.username, args.name, args.role, skills, args.sip_uri,
                      may_publish=args.may_publish)
        )
    if args.command == "campaign":
        from clinicline.outbound.commands import run_campaign

        return asyncio.run(run_campaign(args, _config(args)))
    if args.command == "callees":
        from voice.phone.callees import run_callees

        return run_callees(args)
    if args.command == "calls":
        from clinicline.records import print_call, write_recording

        if args.calls_command == "recording":
            return asyncio.run(write_recording(_config(args), args.call_id, args.out))
        call_id = getattr(args, "call_id", None)
        return asyncio.run(print_call(_config(args), call_id))
    if args.command == "triage":
        return _triage(args)
    if args.command == "nlu":
        from clinicline.records import nlu_jsonl

        return asyncio.run(nlu_jsonl(_config(args)))
    if args.command == "bench" and args.triage_speech:
        from clinicline.bench_triage import run_triage_speech

        return asyncio.run(run_triage_speech(args))
    if args.command == "bench" and args.training:
        from clinicline.bench_training import run_bench_training

        return run_bench_training(args)
    if args.command == "bench" and args.campaign:
        from clinicline.bench_campaign import run_bench_campaign

        return run_bench_campaign(args)
    if args.command == "bench" and args.amd:
        from clinicline.bench_amd import run_bench_amd

        return run_bench_amd(args)
    if args.command == "bench" and (args.names or args.dates or args.spelling or args.when):
        from clinicline.bench_dates import run_bench_dates
        from clinicline.bench_names import demo_vocabulary, run_bench_names
        from clinicline.bench_spelling import run_bench_spelling
        from voice.asr.select import make_recognizer
        from voice.asr.whisper import WhisperConfig

        config = _config(args)
        recognizer = make_recognizer(
            config.asr_engine, config.vosk_model_dir, demo_vocabulary(config.vocabulary),
            whisper=WhisperConfig(
                cpu_threads=config.asr_threads, window_seconds=config.asr_window_seconds,
                beam_size=config.asr_beams,
            ),
        )  # fmt: skip
        if args.dates:
            return run_bench_dates(args, recognizer)
        if args.when:
            from clinicline.bench_when import run_bench_when

            return run_bench_when(args, recognizer)
        if args.spelling:
            return run_bench_spelling(args, recognizer)
        return run_bench_names(args, recognizer)
    if args.command == "bench" and args.turn_taking:
        from clinicline.bench_turns import run_bench_turns

        return run_bench_turns(args)
    if args.command == "bench" and args.load:
        from clinicline.bench_load import run_bench_load

        default = "8" if args.soak else "1,4,8,12,16"
        levels = [int(x) for x in (args.calls or default).split(",") if x.strip()]
        asyncio.run(
            run_bench_load(
                args.out, levels, args.workers, args.turns, not args.no_rasa, soak=args.soak
            )
        )
        print((args.out / "load.md").read_text())
        return 0
    if args.command == "bench":
        from clinicline.bench import run_bench

        return asyncio.run(run_bench(args, _config(args)))
    raise AssertionError(args.command)


def _triage(args: argparse.Namespace) -> int:
    from nlu.triage import TriageEngine

    engine = TriageEngine.from_file(args.lexicon) if args.lexicon else TriageEngine.default()
    if args.prepare:
        # `make run` and `make test` call this once, so that no server or test process spends
        # its first seconds embedding thousands of bank sentences.
        ready = engine.net is not None and engine.net.warm_up()
        print("safety net ready" if ready else "safety net unavailable: lexicon only")
        return 0 if ready else 1
    # Each line is judged as a final transcript: the lexicon, then the safety net (its
    # category, the description it matched and the score are in "net").
    for line in sys.stdin:
        text = line.rstrip("\n")
        if not text.strip():
            continue
        if args.lexicon_only:
            result = engine.assess(text)
        else:
            result = engine.assess_final(text, answering=args.answering)
        print(json.dumps(result.to_json()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
