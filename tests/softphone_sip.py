"""SIP over a WebSocket for the browser-phone tests: what a page's phone says, written by hand
so a test can register any line with any credentials and answer an INVITE as it likes."""

from __future__ import annotations

import hashlib
import re

import aiohttp


def register_request(aor: str, user: str, call_id: str, cseq: int, authorization: str = "") -> str:
    host = aor.split("@", 1)[1]
    lines = [
        f"REGISTER sip:{host} SIP/2.0",
        f"Via: SIP/2.0/WSS test.invalid;branch=z9hG4bK{call_id}{cseq}",
        "Max-Forwards: 70",
        f"From: <{aor}>;tag=t{call_id}",
        f"To: <{aor}>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} REGISTER",
        f"Contact: <sip:{user}@test.invalid;transport=ws>;expires=60",
    ]
    if authorization:
        lines.append(f"Authorization: {authorization}")
    return "\r\n".join([*lines, "Content-Length: 0", "", ""])


def digest(challenge: str, username: str, password: str, uri: str) -> str:
    """The Authorization header answering a gateway's WWW-Authenticate (RFC 2617, MD5)."""
    realm = re.search(r'realm="([^"]+)"', challenge)
    nonce = re.search(r'nonce="([^"]+)"', challenge)
    assert realm and nonce, challenge

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - SIP digest is MD5

    secret = md5(f"{username}:{realm[1]}:{password}")
    response = md5(f"{secret}:{nonce[1]}:{md5(f'REGISTER:{uri}')}")
    return (
        f'Digest username="{username}", realm="{realm[1]}", nonce="{nonce[1]}", '
        f'uri="{uri}", response="{response}", algorithm=MD5'
    )


async def register(
    ws: aiohttp.ClientWebSocketResponse, aor: str, username: str, password: str
) -> str:
    """REGISTER `aor` on an open socket, answering the challenge: the final status line, or
    "closed" when the socket was ended instead."""
    user = aor.split(":", 1)[1].split("@", 1)[0]
    await ws.send_str(register_request(aor, user, "c1", 1))
    first = await ws.receive(timeout=10)
    if first.type != aiohttp.WSMsgType.TEXT:  # the relay ended the socket
        return "closed"
    challenge = str(first.data)
    assert challenge.startswith("SIP/2.0 401"), challenge
    header = next(h for h in challenge.split("\r\n") if h.lower().startswith("www-auth"))
    uri = f"sip:{aor.split('@', 1)[1]}"
    await ws.send_str(register_request(aor, user, "c1", 2, digest(header, username, password, uri)))
    return str((await ws.receive(timeout=10)).data).split("\r\n", 1)[0]


def response_to(request: str, status: str) -> str:
    """A final response to a SIP request (e.g. "486 Busy Here"), its dialog headers copied."""
    head = request.split("\r\n\r\n", 1)[0].split("\r\n")
    copied = [
        line + (";tag=browser" if line.lower().startswith("to:") and ";tag=" not in line else "")
        for line in head[1:]
        if line.split(":", 1)[0].strip().lower() in ("via", "from", "to", "call-id", "cseq")
    ]
    return "\r\n".join([f"SIP/2.0 {status}", *copied, "Content-Length: 0", "", ""])
