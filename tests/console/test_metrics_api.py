"""GET /console/api/metrics: supervisors only, clear refusals for bad windows, no PHI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import func, select

from integrations.services import calls, turned_away
from integrations.store.models import AuditEvent
from tests.console.conftest import Server
from tests.console.test_console_api import sign_in

T0 = datetime(2031, 3, 3, 14, 0, tzinfo=UTC)  # 09:00 at the clinic (America/New_York)
DAY = "2031-03-03"
CALLER = "+15550100001"


async def seed_calls(server: Server) -> None:
    """Four calls on DAY: two contained, one answered transfer, one abandoned transfer; and
    two callers turned away with every line busy."""
    async with server.db.session() as s:
        await turned_away.record(s, 2, "front", T0 + timedelta(minutes=5))
        for i, (seconds, disposition, fields, events) in enumerate(
            [
                (120, "refill_requested", {}, [("intent", {"name": "request_refill"})]),
                (60, "info_given", {}, [("intent", {"name": "ask_hours"})]),
                (
                    300,
                    "transferred",
                    {"transferred": True, "transfer_queue": "front_desk"},
                    [("transfer_answered", {"queue": "front_desk", "seconds_to_answer": 12})],
                ),
                (
                    90,
                    "abandoned",
                    {"transfer_queue": "nurse", "triage_level": "emergent"},
                    [("transfer_abandoned", {"queue": "nurse", "seconds_waiting": 40})],
                ),
            ]
        ):
            call_id = f"m-{i}"
            start = T0 + timedelta(minutes=10 * i)
            await calls.open_call(s, call_id=call_id, caller_number=CALLER, started=start)
            for kind, data in events:
                await calls.add_event(s, call_id=call_id, kind=kind, data=data)
            if fields:
                await calls.set_fields(s, call_id, **fields)
            await calls.close_call(
                s,
                call_id=call_id,
                ended=start + timedelta(seconds=seconds),
                disposition=disposition,
            )


@pytest.fixture
async def client(server: Server) -> AsyncIterator[aiohttp.ClientSession]:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(
        base_url=server.url, cookie_jar=jar, headers={"Origin": server.url}
    ) as session:
        yield session


async def test_a_supervisor_reads_the_days_figures(client, server: Server) -> None:
    await seed_calls(server)
    await sign_in(client, "super1")
    async with server.db.session() as s:
        audits_before = await s.scalar(select(func.count(AuditEvent.id)))
    async with client.get("/console/api/metrics", params={"from": DAY, "to": DAY}) as response:
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store"
        body = await response.text()
        figures = await response.json()
    assert figures["window"]["timezone"] == "America/New_York"
    assert figures["window"]["from"] == "2031-03-03T05:00:00+00:00"
    assert figures["calls"]["total"] == 4
    assert figures["calls"]["contained"] == 2
    assert figures["calls"]["transferred"] == 1
    assert figures["calls"]["abandoned"] == 1
    assert figures["calls"]["emergent"] == 1
    assert figures["calls"]["turned_away"] == 2  # callers refused, never calls
    assert figures["rates"]["containment"] == 0.5
    assert figures["handle_time_seconds"]["all"]["median"] == 105.0
    assert figures["time_to_answer_seconds"]["median"] == 12.0
    assert figures["by_intent"] == {"ask_hours": 1, "request_refill": 1}
    assert [q["queue"] for q in figures["by_queue"]] == ["front_desk", "nurse"]
    # Aggregates only: no number, call id or patient anywhere in the answer.
    for secret in ("5550100001", "m-0", "patient", "Maria"):
        assert secret not in body
    async with server.db.session() as s:
        assert await s.scalar(select(func.count(AuditEvent.id))) == audits_before


async def test_without_bounds_the_window_is_today_at_the_clinic(client) -> None:
    await sign_in(client, "super1")
    zone = ZoneInfo("America/New_York")
    before = datetime.now(zone).date()
    async with client.get("/console/api/metrics") as response:
        assert response.status == 200
        window = (await response.json())["window"]
    after = datetime.now(zone).date()
    start = datetime.fromisoformat(window["from"]).astimezone(zone)
    assert start.date() in (before, after) and start.time().hour == 0


async def test_date_times_with_offsets_narrow_the_window(client, server: Server) -> None:
    await seed_calls(server)
    await sign_in(client, "super1")
    # 09:00-09:15 at the clinic: the first two calls (09:00 and 09:10).
    params = {"from": "2031-03-03T09:00", "to": "2031-03-03T14:15:00+00:00"}
    async with client.get("/console/api/metrics", params=params) as response:
        assert response.status == 200
        assert (await response.json())["calls"]["total"] == 2


@pytest.mark.parametrize("username", ["front1", "nurse2", "pharm1"])
async def test_agents_and_nurses_are_refused(client, server: Server, username: str) -> None:
    await seed_calls(server)
    await sign_in(client, username)
    async with client.get("/console/api/metrics", params={"from": DAY}) as response:
        assert response.status == 403
        body = await response.json()
    assert body == {"error": "your role cannot do this"}


async def test_signed_out_is_401(client) -> None:
    async with client.get("/console/api/metrics") as response:
        assert response.status == 401


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "last tuesday"}, "'from' must be a date (YYYY-MM-DD) or an ISO 8601 date-time"),
        ({"to": "2031-13-01"}, "'to' must be a date (YYYY-MM-DD) or an ISO 8601 date-time"),
        ({"from": "2031-03-04", "to": "2031-03-03"}, "'from' must be before 'to'"),
        ({"from": "2020-01-01", "to": "2031-03-03"}, "the window may span at most 366 days"),
        ({"from": "9" * 5000}, "'from' must be a date"),
        ({"from": "0001-01-01", "to": "9999-12-31"}, "'from' must fall between 2000 and 2199"),
        ({"from": "9999-12-30", "to": "9999-12-31"}, "'from' must fall between"),
        ({"to": "0001-01-01T00:00:00"}, "'to' must fall between"),
        ({"from": "２０３１-０３-０３"}, "'from' must be a date"),
        ({"start": DAY}, "unknown parameter(s) ['start']; use 'from' and 'to'"),
    ],
)
async def test_bad_windows_are_400_with_a_clear_message(
    client, params: dict[str, str], message: str
) -> None:
    await sign_in(client, "super1")
    async with client.get("/console/api/metrics", params=params) as response:
        assert response.status == 400
        error = (await response.json())["error"]
    assert error.startswith(message), error


async def test_the_figures_export_as_csv_for_supervisors_only_and_audited(
    client, server: Server
) -> None:
    await seed_calls(server)
    await sign_in(client, "front1")
    async with client.get("/console/api/metrics/export", params={"from": DAY}) as response:
        assert response.status == 403
    await sign_in(client, "super1")
    async with client.get(
        "/console/api/metrics/export", params={"from": DAY, "to": DAY}
    ) as response:
        assert response.status == 200 and response.content_type == "text/csv"
        assert "numbers-2031-03-03" in response.headers["Content-Disposition"]
        text = await response.text()
    rows = dict(line.split(",", 1) for line in text.strip().splitlines()[1:])
    assert rows["calls.total"] == "4" and rows["rates.containment"] == "0.5"
    assert rows["by_hour.9"] == "4" and rows["by_day.0.day"] == DAY
    assert CALLER not in text and "m-0" not in text  # aggregates only
    async with server.db.session() as s:
        audited = await s.scalar(
            select(func.count(AuditEvent.id)).where(
                AuditEvent.action == "metrics_export", AuditEvent.actor == "super1"
            )
        )
    assert audited == 1
