"""The browser phone: a nurse signs in to the console in headless Chromium, her page's SIP.js
phone registers through the console's relay with the real gateway (Kamailio + rtpengine), and
a real red-flag call rings it. She answers in the browser, hears the summary, takes the call
with key 1 on the page's keypad, and talks with the caller: audio both ways, transcribed.

Chromium's microphone is a fake device playing a recording of her words; everything else is
the product as `serve` runs it.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import async_playwright, expect

from clinicline.harness import (
    ServerProcess,
    free_port,
    phone_call,
    start_demo_clinic,
    wait_for_record,
    when_logged,
)
from clinicline.softphone.gateway import missing_parts
from clinicline.softphone.relay import registers_someone_else, registration_result
from tests.callflow.console_agent import sign_in_at_console
from tests.console.conftest import CHROMIUM_ARGS, sign_in_available
from tests.softphone_sip import register
from tests.staff_lines import always_open_hours

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(missing_parts()), reason="the gateway's packages: `make setup`"),
]

NURSE_SAYS = "Nurse speaking. I am with you now, tell me what happened."
BROWSER_PHONE_ON = ": browser phone on"
REFUSED_FOR_ANOTHER_LINE = "a REGISTER for another line, refused"


@pytest.fixture(scope="module")
def clinic(
    tmp_path_factory: pytest.TempPathFactory, speech_data_dir: Path
) -> Iterator[ServerProcess]:
    server = start_demo_clinic(
        tmp_path_factory.mktemp("softphone"),
        data_dir=speech_data_dir,
        env={
            "CLINICLINE_HOURS_FILE": str(always_open_hours()),
            "CLINICLINE_SOFTPHONE_SIP": f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
            "CLINICLINE_SOFTPHONE_RTP_PORTS": "31000-31099",
            # Loopback only in tests (Chromium is told to allow it); a clinic's default is
            # this machine's own network address, which browsers elsewhere reach.
            "CLINICLINE_SOFTPHONE_MEDIA": "127.0.0.1",
        },
    )
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log()[-3000:]


def _nurse_recording(folder: Path) -> Path:
    """What the nurse's fake microphone plays, over and over: her words, then a pause."""
    spoken, padded = folder / "nurse-raw.wav", folder / "nurse.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(spoken), NURSE_SAYS],
                   check=True)  # fmt: skip
    subprocess.run(["sox", str(spoken), "-r", "48000", str(padded), "pad", "0", "2"], check=True)
    return padded


# The loudness of what the page's phone plays (the caller, through the gateway), sampled
# for ten seconds from the remote stream.
_HEARD_RMS = """async () => {
  const stream = document.querySelector("#softphone-audio").srcObject;
  if (!stream) return -1;
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  context.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  let loudest = 0;
  for (let i = 0; i < 200; i++) {
    await new Promise((done) => setTimeout(done, 50));
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    loudest = Math.max(loudest, Math.sqrt(sum / samples.length));
  }
  await context.close();
  return loudest;
}"""


async def test_a_nurse_answers_a_red_flag_call_in_the_browser_and_talks_with_the_caller(
    clinic: ServerProcess, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{clinic.http_port}"
    recording = _nurse_recording(tmp_path)
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={recording}",
        "--autoplay-policy=no-user-gesture-required",
        "--allow-loopback-in-peer-connection",  # media stays on loopback here
    ]
    bridged = tmp_path / "bridged"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        watch = asyncio.create_task(when_logged(clinic, ": bridged to", bridged))
        try:
            page = await (await browser.new_context()).new_page()
            said: list[str] = []  # the page's console, for a failure's report
            page.on("console", lambda message: said.append(message.text))
            await sign_in_available(page, base)
            phone = page.locator("#softphone")
            await expect(phone.locator("#softphone-state")).to_have_text(
                "ready: calls ring here", timeout=20_000
            )
            assert _browser_phone(clinic).startswith("sip:nurse1@")  # the gateway said so
            caller = asyncio.create_task(
                asyncio.to_thread(
                    phone_call, clinic,
                    "--say", "my husband collapsed and he is not breathing",
                    "--wait-for", f"120:{bridged}",
                    "--wait", "4",
                    "--say", "He is lying on the kitchen floor and his lips are blue",
                    "--wait", "12",  # she holds and resumes meanwhile
                    "--listen", "5",
                    timeout=300,
                )  # fmt: skip
            )
            await expect(phone.locator("#softphone-answer")).to_be_visible(timeout=90_000)
            await expect(phone).to_have_attribute("data-state", "ringing")
            await page.click("#softphone-answer")
            try:
                await expect(phone.locator("#softphone-state")).to_have_text(
                    "on a call", timeout=20_000
                )
            except AssertionError as exc:
                raise AssertionError(said) from exc
            # The summary plays to her alone, then "press 1 to take the call".
            await page.wait_for_timeout(9_000)
            await page.click("#softphone-keypad button:text-is('1')")
            await asyncio.wait_for(_until(bridged), 60)
            # The caller speaks 4 s after the bridge (and the synthesis of her words).
            heard_rms = await page.evaluate(_HEARD_RMS)
            # The README's picture of it (python -m pytest … with CLINICLINE_SCREENSHOTS=docs/…).
            shots = Path(os.environ.get("CLINICLINE_SCREENSHOTS", tmp_path))
            await page.screenshot(path=str(shots / "browser-phone.png"), full_page=True)
            # Hold and resume: a re-INVITE from the browser through the gateway to the worker
            # and its answer back (the page says "on hold" only once the worker agreed).
            status, mute = phone.locator("#softphone-state"), phone.locator("#softphone-mute")
            await page.click("#softphone-hold")
            await expect(status).to_have_text("on hold", timeout=10_000)
            await page.click("#softphone-hold")
            await expect(status).to_have_text("on a call", timeout=10_000)
            await page.click("#softphone-mute")
            await expect(mute).to_have_attribute("aria-pressed", "true")
            await page.click("#softphone-mute")
            await expect(mute).to_have_attribute("aria-pressed", "false")
            result = await caller
            await expect(phone.locator("#softphone-state")).to_have_text(
                "ready: calls ring here", timeout=30_000
            )
            # The gateway's Kamailio dies: it is started again, and her page registers anew
            # (a new "on" in the log: the store may still hold the old one for a moment).
            registrations = clinic.log().count(BROWSER_PHONE_ON)
            pid = (clinic.data_dir / "softphone" / str(clinic.sip_port) / "kamailio.pid")
            os.kill(int(pid.read_text()), signal.SIGKILL)
            await asyncio.wait_for(_until_logged(clinic, "starting both again"), 30)
            await asyncio.wait_for(_until_logged(clinic, BROWSER_PHONE_ON, registrations + 1), 60)
            assert _browser_phone(clinic) != ""
        finally:
            watch.cancel()
            await browser.close()
    record = await asyncio.to_thread(wait_for_record, clinic, result["call_id"])
    kinds = [e["kind"] for e in record["events"]]
    assert "bridged" in kinds and record["transferred"], kinds
    agent_said = " ".join(t["text"] for t in record["turns"] if t["speaker"] == "agent").lower()
    # What the caller heard once bridged (the bot's own messages, which name a nurse too,
    # come before it).
    turns = result["turns"]
    bridge = next(i for i, t in enumerate(turns) if t["said"].endswith(f"until {bridged.name}>"))
    heard_by_caller = " ".join(t["heard"] for t in turns[bridge + 1 :]).lower()
    # Her microphone reached the caller's phone through the gateway and the worker's bridge.
    assert "nurse" in agent_said, record["turns"]
    # Any of her words: on a loaded machine the caller's recogniser once kept only the end
    # ("what's happened?") of her line.
    assert any(word in heard_by_caller for word in ("nurse", "with you", "happen")), result
    # And the caller's voice reached her browser.
    assert heard_rms > 0.05, heard_rms
    # Her page is gone: calls for her ring her desk phone again.
    assert _browser_phone(clinic) == ""


def _gateway_socket(server: ServerProcess) -> str:
    """The gateway's own WebSocket, on loopback, from its rendered config."""
    config = (server.data_dir / "softphone" / str(server.sip_port) / "softphone.cfg").read_text()
    listen = re.search(r"^listen=tcp:(\S+)$", config, re.MULTILINE)
    assert listen is not None
    return f"ws://{listen[1]}"


def _browser_phone(server: ServerProcess, username: str = "nurse1") -> str:
    path = server.db_url.split("///", 1)[1]
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT browser_phone_uri FROM agents WHERE username = ?", (username,))
        return str(row.fetchone()[0])


async def _until_logged(server: ServerProcess, line: str, times: int = 1) -> None:
    while server.log().count(line) < times:
        await asyncio.sleep(0.3)


async def _until(path: Path) -> None:
    while not path.exists():
        await asyncio.sleep(0.2)


# ---- who may register what: raw SIP over the console's relay --------------------------------


async def _try_register(
    http: aiohttp.ClientSession,
    ws_url: str,
    aor: str,
    username: str,
    password: str,
    server: ServerProcess,
) -> tuple[str, str]:
    """REGISTER `aor` over `ws_url` with these credentials: the final status ("closed" if the
    socket was ended instead), and where the store rings nurse1 a moment later."""
    async with http.ws_connect(ws_url, protocols=("sip",)) as ws:
        status = await register(ws, aor, username, password)
        if status != "closed":
            await asyncio.sleep(0.5)
        return status, _browser_phone(server, "nurse1")


async def test_the_relay_and_the_gateway_let_an_agent_register_her_own_line_only(
    clinic: ServerProcess,
) -> None:
    base = f"http://127.0.0.1:{clinic.http_port}"
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.get(f"{base}/console/api/softphone") as r:
            assert r.status == 401
        async with anonymous.get(f"{base}/console/softphone/ws", headers={"Origin": base}) as r:
            assert r.status == 401
    nurse = await sign_in_at_console(base, "nurse1", presence=None)
    relay = base.replace("http://", "ws://") + "/console/softphone/ws"
    try:
        async with nurse.http.get(f"{base}/console/api/softphone") as r:
            line = await r.json()
        assert line["available"] and line["aor"].startswith("sip:nurse1@"), line
        assert line["username"].endswith(":nurse1")
        # Another agent's line, even with her real credentials (copied from her screen):
        # the relay ends nurse1's socket before the gateway sees it.
        colleague = await sign_in_at_console(base, "nurse2", presence=None)
        async with colleague.http.get(f"{base}/console/api/softphone") as r:
            theirs = await r.json()
        await colleague.close()
        refusals = clinic.log().count(REFUSED_FOR_ANOTHER_LINE)
        status, rung = await _try_register(
            nurse.http, relay, theirs["aor"], theirs["username"], theirs["password"], clinic
        )
        assert status == "closed", status
        await asyncio.wait_for(_until_logged(clinic, REFUSED_FOR_ANOTHER_LINE, refusals + 1), 10)
        assert rung == "" and _browser_phone(clinic, "nurse2") == ""
        # Behind the relay, the gateway itself (its loopback socket) refuses her credentials
        # for a colleague's line.
        async with aiohttp.ClientSession() as local:
            status, _ = await _try_register(
                local, _gateway_socket(clinic), theirs["aor"], line["username"],
                line["password"], clinic,
            )  # fmt: skip
        assert status.startswith("SIP/2.0 403"), status
        # Credentials she made up (a later expiry): the signature fails.
        forged = line["username"].replace(line["username"].split(":")[0], "4102444800")
        status, rung = await _try_register(
            nurse.http, relay, line["aor"], forged, line["password"], clinic
        )
        assert status.startswith("SIP/2.0 401") and rung == "", status
        # Her own line: registered, and routing rings it until the socket ends.
        status, rung = await _try_register(
            nurse.http, relay, line["aor"], line["username"], line["password"], clinic
        )
        assert status.startswith("SIP/2.0 200") and rung == line["aor"], (status, rung)
        await asyncio.sleep(1)  # the relay saves the socket's end
        assert _browser_phone(clinic) == ""
        # A page of another origin cannot open her socket with her cookie.
        async with nurse.http.get(
            f"{base}/console/softphone/ws", headers={"Origin": "http://evil.example"}
        ) as r:
            assert r.status == 403
    finally:
        await nurse.close()


def test_only_the_gateway_s_200_to_a_register_decides_the_line() -> None:
    def reply(status: str, method: str, contact: str = "") -> str:
        head = [f"SIP/2.0 {status}", "Via: SIP/2.0/WSS x.invalid", f"CSeq: 2 {method}"]
        return "\r\n".join([*head, *([contact] if contact else []), "", ""])

    live = 'Contact: <sip:nurse1@x.invalid;transport=ws>;expires=600'
    assert registration_result(reply("200 OK", "REGISTER", live)) is True
    assert registration_result(reply("200 OK", "REGISTER", live.replace("600", "0"))) is False
    assert registration_result(reply("200 OK", "REGISTER")) is False  # unregistered: none left
    assert registration_result(reply("403 Not your line", "REGISTER")) is False
    assert registration_result(reply("401 Unauthorized", "REGISTER")) is None  # a challenge
    assert registration_result(reply("200 OK", "INVITE", live)) is None
    assert registration_result(reply("180 Ringing", "INVITE")) is None
    assert registration_result("REGISTER sip:x SIP/2.0\r\nCSeq: 1 REGISTER\r\n\r\n") is None


def test_the_relay_tells_her_own_register_from_anyone_else_s() -> None:
    def register(to: str) -> str:
        return f"REGISTER sip:gw SIP/2.0\r\nTo: {to}\r\nCSeq: 1 REGISTER\r\n\r\n"

    assert not registers_someone_else(register("<sip:nurse1@127.0.0.1:5064>"), "nurse1")
    assert not registers_someone_else(register('"Nora" <sip:nurse1@gw>;tag=x'), "nurse1")
    assert registers_someone_else(register("<sip:nurse2@127.0.0.1:5064>"), "nurse1")
    assert registers_someone_else(register("<sip:nurse1x@gw>"), "nurse1")
    assert registers_someone_else("REGISTER sip:gw SIP/2.0\r\nCSeq: 1 REGISTER\r\n\r\n", "nurse1")
    assert not registers_someone_else("INVITE sip:x SIP/2.0\r\nTo: <sip:nurse2@gw>\r\n", "nurse1")
