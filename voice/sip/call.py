"""A pjsua2 call whose events are forwarded to plain Python callbacks on the asyncio thread.

The telephony edge stays thin: this class only translates pjsua2 callbacks into
`CallEvents` calls, and never lets an exception escape into SWIG (where it would be
printed and swallowed).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import pjsua2 as pj

from voice.sip import native

log = logging.getLogger(__name__)

DTMF_METHODS = {
    pj.PJSUA_DTMF_METHOD_RFC2833: "rfc2833",
    pj.PJSUA_DTMF_METHOD_SIP_INFO: "sip_info",
}


@dataclass
class CallEvents:
    """What the owner of a call wants to hear about; every callback is optional."""

    on_media: Callable[[pj.AudioMedia], None] = lambda media: None
    on_confirmed: Callable[[], None] = lambda: None
    on_disconnected: Callable[[int, str], None] = lambda code, reason: None
    on_dtmf: Callable[[str, str], None] = lambda digit, method: None
    on_transfer_status: Callable[[int, bool], None] = lambda code, final: None
    # A REFER from the peer (Refer-To URI): return the new call's object to follow it,
    # None to refuse (603). The default refuses: a worker must not dial where a caller says.
    on_transfer_request: Callable[[str], SipCall | None] = lambda uri: None
    # An INVITE with Replaces for this call: True lets it replace this call (default: refuse).
    on_replace_request: Callable[[], bool] = lambda: False
    # This call was replaced (pjsua id of the new call): return the new call's object.
    on_replaced: Callable[[int], SipCall | None] = lambda call_id: None
    extra: dict[str, object] = field(default_factory=dict)


# The C++ half of every SipCall is deleted by `release_calls`, never by Python's garbage
# collector. pjsua2's `~Call` clears the user data of, and hangs up, whatever call holds the
# slot (pjsua call id) the object was made for; pjsua gives that slot to a new call as soon as
# the old one ends. So a finished call's object collected a few calls later cut a stranger's
# call and left that call's object deaf to its events (seen in a test: a reminder call ended
# two seconds in), and one collected after `libDestroy` aborted the process.
_OWNED: dict[int, SipCall] = {}
# `sys.getrefcount` of an owned call nothing else refers to: the registry, the SWIG director
# that keeps the Python half alive for C++, the loop's name in `release_calls`, the argument.
_ONLY_OURS = 4


class SipCall(pj.Call):
    """One call leg, inbound or outbound. Drop it freely: `release_calls` deletes it later."""

    def __init__(
        self,
        account: pj.Account,
        call_id: int = pj.PJSUA_INVALID_ID,
        events: CallEvents | None = None,
    ) -> None:
        super().__init__(account, call_id)
        self.__disown__()  # C++ owns the object now; it is deleted in `release_calls`
        _OWNED[id(self)] = self
        self.events = events or CallEvents()
        self.media_connected = False
        self.disconnected = False
        self.abandoned = False  # let go of while still up: `release_calls` hung it up
        self.sip_call_id = ""
        # (local tag, remote tag) of the dialog, from the first 2xx we send to an INVITE:
        # what `terminate_unconfirmed` needs to find the dialog in pjsip.
        self.dialog_tags: tuple[str, str] | None = None

    def _guard(self, what: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:
            log.exception("call callback %s failed", what)

    def onCallState(self, prm: pj.OnCallStateParam) -> None:  # noqa: N802
        def handle() -> None:
            info = self.getInfo()
            self.sip_call_id = info.callIdString
            if info.state == pj.PJSIP_INV_STATE_CONFIRMED:
                self.events.on_confirmed()
            elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED and not self.disconnected:
                self.disconnected = True
                self.events.on_disconnected(info.lastStatusCode, info.lastReason)

        self._guard("state", handle)

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:  # noqa: N802
        def handle() -> None:
            info = self.getInfo()
            for index, media in enumerate(info.media):
                if (
                    media.type == pj.PJMEDIA_TYPE_AUDIO
                    and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE
                    and not self.media_connected
                ):
                    self.media_connected = True
                    self.events.on_media(self.getAudioMedia(index))

        self._guard("media", handle)

    def onCallTsxState(self, prm: pj.OnCallTsxStateParam) -> None:  # noqa: N802
        if self.dialog_tags is not None:
            return

        def handle() -> None:
            tsx = prm.e.body.tsxState.tsx
            if (
                tsx.role == pj.PJSIP_ROLE_UAS
                and tsx.method == "INVITE"
                and 200 <= tsx.statusCode < 300
                and tsx.lastTx is not None
            ):
                self.dialog_tags = dialog_tags(tsx.lastTx.wholeMsg)

        self._guard("transaction", handle)

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:  # noqa: N802
        method = DTMF_METHODS.get(prm.method, "other")
        self._guard("dtmf", lambda: self.events.on_dtmf(prm.digit, method))

    def onCallTransferStatus(self, prm: pj.OnCallTransferStatusParam) -> None:  # noqa: N802
        self._guard(
            "transfer", lambda: self.events.on_transfer_status(prm.statusCode, prm.finalNotify)
        )

    def onCallTransferRequest(self, prm: pj.OnCallTransferRequestParam) -> None:  # noqa: N802
        new_call: SipCall | None = None
        try:
            new_call = self.events.on_transfer_request(prm.dstUri)
        except Exception:
            log.exception("call callback transfer request failed")
        if new_call is None:
            prm.statusCode = pj.PJSIP_SC_DECLINE
        else:
            # pjsua2 >= 2.10: the transfer's new call gets its own Call object, or the
            # events of the new call arrive on this (disconnecting) one.
            prm.newCall = new_call

    def onCallReplaceRequest(self, prm: pj.OnCallReplaceRequestParam) -> None:  # noqa: N802
        accept = False
        try:
            accept = self.events.on_replace_request()
        except Exception:
            log.exception("call callback replace request failed")
        if not accept:
            prm.statusCode = pj.PJSIP_SC_FORBIDDEN
            prm.reason = "Replaces not accepted"

    def onCallReplaced(self, prm: pj.OnCallReplacedParam) -> None:  # noqa: N802
        new_call: SipCall | None = None
        try:
            new_call = self.events.on_replaced(prm.newCallId)
        except Exception:
            log.exception("call callback replaced failed")
        if new_call is not None:
            prm.newCall = new_call

    # -- actions ------------------------------------------------------------------------
    def send_dtmf(self, digits: str, method: str = "rfc2833") -> None:
        prm = pj.CallSendDtmfParam()
        prm.digits = digits
        prm.method = (
            pj.PJSUA_DTMF_METHOD_SIP_INFO if method == "sip_info" else pj.PJSUA_DTMF_METHOD_RFC2833
        )
        self.sendDtmf(prm)

    def xfer_replaces(self, dest: SipCall) -> None:
        """Send REFER to our peer with Refer-To: DEST's remote URI?Replaces=DEST's dialog.

        Progress arrives in `events.on_transfer_status`; raises `pj.Error` when the REFER
        cannot be sent (e.g. DEST has no confirmed dialog).
        """
        self.xferReplaces(dest, pj.CallOpParam(True))

    def terminate_unconfirmed(self, code: int = 408) -> bool:
        """End an answered call whose ACK never came, freeing its slot now (see
        `native.terminate_dialog`); False when the dialog is unknown or already gone."""
        if self.disconnected or self.dialog_tags is None or not self.sip_call_id:
            return False
        local, remote = self.dialog_tags
        return native.terminate_dialog(self.sip_call_id, local, remote, code)

    def hangup_quietly(self, code: int = 200) -> None:
        """Hang up if still up; never raise (the peer may already have gone)."""
        if self.disconnected:
            return
        prm = pj.CallOpParam()
        prm.statusCode = code
        with contextlib.suppress(pj.Error):
            self.hangup(prm)


def release_calls(*, everything: bool = False) -> int:
    """Delete the call objects nothing refers to any more, once their slot is idle; returns
    how many were deleted. One whose call is still up is hung up first, as pjsua2 would on
    deleting it. Call it on the pjsua thread, outside any callback. EVERYTHING, just before
    `libDestroy`: delete every call object left, referred to or not (none may outlive the
    library)."""
    released = 0
    for key in list(_OWNED):
        call = _OWNED[key]
        if not everything:
            if sys.getrefcount(call) > _ONLY_OURS:
                continue
            slot = native.call_slot_state(call.getId(), int(call.this))
            if slot == "own" and not call.abandoned:
                call.abandoned = True
                call.hangup_quietly()
            if slot != "idle":
                continue
        del _OWNED[key]
        call.events = CallEvents()
        pj._pjsua2.delete_Call(call)
        released += 1
    return released


def owned_calls() -> int:
    """Call objects not deleted yet (in use, or waiting for their slot to be harmless)."""
    return len(_OWNED)


def answer(call: SipCall, code: int, headers: dict[str, str] | None = None) -> None:
    prm = pj.CallOpParam()
    prm.statusCode = code
    for name, value in (headers or {}).items():
        header = pj.SipHeader()
        header.hName = name
        header.hValue = value
        prm.txOption.headers.append(header)
    call.answer(prm)


def make_call(
    account: pj.Account, uri: str, events: CallEvents, headers: dict[str, str] | None = None
) -> SipCall:
    """Place an outbound call; the returned object must be kept referenced."""
    call = SipCall(account, events=events)
    prm = pj.CallOpParam(True)
    for name, value in (headers or {}).items():
        header = pj.SipHeader()
        header.hName = name
        header.hValue = value
        prm.txOption.headers.append(header)
    call.makeCall(uri, prm)
    return call


def call_ref(sip_call_id: str) -> str:
    """The opaque id a call is known by everywhere else (store, Rasa, console, URLs).

    Derived from the SIP Call-ID so both ends of a test can name the same call, but not
    the Call-ID itself, which may carry host names.
    """
    return "c" + hashlib.sha256(sip_call_id.encode()).hexdigest()[:19]


_TAG = r"^{}:[^\r\n]*;\s*tag=([^;>\s]+)"
_TO_TAG = re.compile(_TAG.format("(?:to|t)"), re.IGNORECASE | re.MULTILINE)
_FROM_TAG = re.compile(_TAG.format("(?:from|f)"), re.IGNORECASE | re.MULTILINE)


def dialog_tags(response: str) -> tuple[str, str] | None:
    """(To tag, From tag) of a response we sent: our tag and the caller's, for a UAS."""
    to, from_ = _TO_TAG.search(response), _FROM_TAG.search(response)
    return (to.group(1), from_.group(1)) if to and from_ else None


_USER_PART = re.compile(r"sips?:([^@;>]+)@")


def caller_number(remote_uri: str) -> str | None:
    """The user part of the caller's URI when it looks like a phone number."""
    match = _USER_PART.search(remote_uri)
    if not match:
        return None
    user = match.group(1)
    return user if re.fullmatch(r"\+?[0-9]{3,15}", user) else None
