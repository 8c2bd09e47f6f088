"""The load benchmark's bookkeeping: which process is which kind, what a phone's output says,
and the report. (The benchmark itself is `clinicline bench --load`: far too long for CI.)"""

from __future__ import annotations

import os

from clinicline.bench_load import _call_log, classify, markdown, rss_slopes

SITE = 100


def _table() -> dict[int, tuple[int, str, float, float]]:
    return {
        1: (0, "/sbin/init", 0.0, 5.0),
        SITE: (1, "python -m clinicline.cli serve --workers 2 --sip 127.0.0.1:5060", 1.0, 70.0),
        101: (SITE, "/usr/sbin/kamailio -f /tmp/k.cfg -DD -E", 0.1, 20.0),
        102: (101, "/usr/sbin/kamailio -f /tmp/k.cfg -DD -E", 0.1, 20.0),
        # A worker's command line names its Rasa port: it is still a worker.
        103: (SITE, "python -m clinicline.cli serve --workers 1 --rasa-port 5005", 9.0, 400.0),
        104: (103, ".venv-rasa/bin/python -m dialogs.inside_rasa.launch run -p 5005", 20.0, 700.0),
        200: (1, "/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql", 3.0, 30.0),
        201: (200, "postgres: 15/main: clinicline clinicline_load 127.0.0.1", 1.0, 10.0),
        300: (1, "python -m clinicline.cli call --to sip:clinic@127.0.0.1", 2.0, 90.0),
        400: (1, "python -m clinicline.cli serve", 5.0, 300.0),  # someone else's server
    }


def test_each_process_of_the_site_is_counted_under_its_kind_and_strangers_are_left_out() -> None:
    kinds = classify(_table(), SITE, phones={300})
    assert kinds == {
        SITE: "supervisor",
        101: "kamailio",
        102: "kamailio",
        103: "workers",
        104: "rasa",
        200: "postgresql",
        201: "postgresql",
        300: "phones",
    }


def test_this_process_is_no_part_of_a_site_it_did_not_start() -> None:
    from clinicline.bench_load import _proc_table

    table = _proc_table()
    assert os.getpid() in table
    assert os.getpid() not in classify(table, SITE, phones=set())


def test_the_phone_log_is_read_past_pjsips_own_lines() -> None:
    out = (
        '02:10:00.123 pjsua_core.c  pjsua version 2.14\n{\n  "connected": true,\n'
        '02:10:09.001 pjsua_core.c  shutting down\n  "turns": []\n}\n'
    )
    assert _call_log(out) == {"connected": True, "turns": []}
    assert _call_log("02:10:00.123 the phone crashed before its log\n") == {}


def _level(calls: int, failed: int, p95: float) -> dict[str, object]:
    zero = dict.fromkeys(("workers", "rasa", "kamailio", "postgresql", "supervisor", "phones"), 0.1)
    return {
        "calls": calls, "answered": calls, "failed": failed, "turns_measured": 3 * calls,
        "latency_ms_p50": p95 / 2, "latency_ms_p95": p95, "latency_ms": [],
        "cpu_cores": zero, "peak_rss_mb": zero,
    }  # fmt: skip


def test_the_report_names_the_most_calls_that_met_the_goal() -> None:
    run = {
        "date": "2026-12-01 02:00 UTC", "code": "abc1234", "workers": 4, "rasa": True,
        "turns": 3, "machine": {"cpus": 2, "python": "3.11.7", "platform": "Linux"},
        # 8 calls met the goal; 12 was too slow and 16 lost a call.
        "levels": [_level(1, 0, 800), _level(8, 0, 1400), _level(12, 0, 2100),
                   _level(16, 1, 1300)],
    }  # fmt: skip
    report = markdown({"load": run})
    assert "0 failed and p95 ≤ 1.5 s: **8** (4.0 per core" in report
    # Two tables (capacity, and where the time goes): a header and a row per level each.
    assert report.count("\n| ") == 2 * 5
    assert "| 12 | – / – ms | – / – ms | – / – ms | – / – ms |" in report  # none recorded
    # The red-flag screen takes milliseconds: tenths are kept below 10 ms.
    run["levels"][0]["server_ms"] = {
        "screen_ms": [3.24, 11.6], "recognized_ms": [410.0, 609.2],
        "dialog_done_ms": [528.0, 758.0], "first_audio_ms": [529.0, 813.0],
    }  # fmt: skip
    assert "| 1 | 3.2 / 12 ms | 410 / 609 ms | 528 / 758 ms | 529 / 813 ms |" in markdown(
        {"load": run}
    )


def test_load_callers_answer_the_identity_questions_as_demo_patients() -> None:
    from clinicline.bench_load import LOAD_CALLERS, LOAD_REQUESTS, caller_lines

    number, lines = caller_lines(4, 6)
    assert (number, *lines[1:3]) == LOAD_CALLERS[4 % len(LOAD_CALLERS)]
    assert lines[0] == LOAD_REQUESTS[4] and lines[3] == "yes"
    assert lines[4:] == [LOAD_REQUESTS[5], LOAD_REQUESTS[0]]
    assert caller_lines(0, 2)[1] == [LOAD_REQUESTS[0], LOAD_CALLERS[0][1]]


def test_the_soak_slope_of_the_second_half_sees_past_a_long_warm_up() -> None:
    # Workers grow 100 MB over the first 150 calls, then 2 MB per 100; the rest stay flat.
    points = [
        (n, {"workers": 2300 + min(n, 150) * 100 / 150 + max(0, n - 150) * 0.02,
             "rasa": 3126.0, "kamailio": 192.0, "supervisor": 76.0})
        for n in range(8, 504, 8)
    ]  # fmt: skip
    whole, late = rss_slopes(points[1:]), rss_slopes(points[len(points) // 2 :])
    assert whole["workers"] is not None and whole["workers"] > 10
    assert late == {"workers": 2.0, "rasa": 0.0, "kamailio": 0.0, "supervisor": 0.0}
    assert rss_slopes(points[:1]) == dict.fromkeys(("workers", "rasa", "kamailio", "supervisor"))
