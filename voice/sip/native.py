"""The few pjsip/pjsua C functions pjsua2 does not wrap, called through ctypes.

They live in the wheel's own shared library (`pjsua2._pjsua2`), exported with C linkage. Only
functions and public structs that have not changed across pjproject 2.x are used: the
`pjsip_module` descriptor, `pjsip_response_addr`, `pj_str_t`, and the list member every pjsip
header starts with. Every function here must be called on the thread that runs pjsua (the
asyncio thread); a module's callbacks arrive there too, from `libHandleEvents`.
"""

from __future__ import annotations

import ctypes
import functools
import logging
from collections.abc import Callable

import pjsua2 as pj

log = logging.getLogger(__name__)

PJ_SUCCESS = 0


class _PjStr(ctypes.Structure):
    """`pj_str_t`: a pointer and a length, not NUL-terminated."""

    _fields_ = [("ptr", ctypes.c_char_p), ("slen", ctypes.c_ssize_t)]

    @classmethod
    def of(cls, text: str) -> _PjStr:
        data = text.encode()
        return cls(data, len(data))


class _PjStrView(ctypes.Structure):
    """A `pj_str_t` pjsip filled in: read exactly `slen` bytes at `ptr`, no NUL to rely on."""

    _fields_ = [("ptr", ctypes.c_void_p), ("slen", ctypes.c_ssize_t)]

    def text(self) -> str:
        if not self.ptr or self.slen <= 0:
            return ""
        return ctypes.string_at(self.ptr, self.slen).decode(errors="replace")


class _HeaderListHead(ctypes.Structure):
    """A `pjsip_hdr` used only as the head of a header list: pjsip reads `prev` and `next`.

    Sized like a whole `pjsip_hdr` (list member, type, name, short name, vptr) so that
    nothing pjsip might touch lies outside our own memory.
    """

    _fields_ = [("prev", ctypes.c_void_p), ("next", ctypes.c_void_p), ("_rest", ctypes.c_byte * 56)]


class _SockAddr(ctypes.Structure):
    """`pj_sockaddr`: the union of IPv4 and IPv6 socket addresses (28 bytes)."""

    _fields_ = [("raw", ctypes.c_uint32 * 7)]


class _HostInfo(ctypes.Structure):
    """`pjsip_host_info`: flag, transport type, then `pjsip_host_port` (host, port)."""

    _fields_ = [
        ("flag", ctypes.c_uint), ("type", ctypes.c_int),
        ("host", _PjStrView), ("port", ctypes.c_int),
    ]  # fmt: skip


class _ResponseAddr(ctypes.Structure):
    """`pjsip_response_addr`, with room to spare in case a build adds a field at the end."""

    _fields_ = [
        ("transport", ctypes.c_void_p), ("addr", _SockAddr), ("addr_len", ctypes.c_int),
        ("dst_host", _HostInfo), ("_spare", ctypes.c_byte * 256),
    ]  # fmt: skip


RequestCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class _Module(ctypes.Structure):
    """`pjsip_module`: list member, name, id, priority, then the nine callbacks."""

    _fields_ = [
        ("prev", ctypes.c_void_p), ("next", ctypes.c_void_p), ("name", _PjStr),
        ("id", ctypes.c_int), ("priority", ctypes.c_int),
        ("load", ctypes.c_void_p), ("start", ctypes.c_void_p), ("stop", ctypes.c_void_p),
        ("unload", ctypes.c_void_p), ("on_rx_request", RequestCallback),
        ("on_rx_response", ctypes.c_void_p), ("on_tx_request", ctypes.c_void_p),
        ("on_tx_response", ctypes.c_void_p), ("on_tsx_state", ctypes.c_void_p),
    ]  # fmt: skip


@functools.cache
def _lib() -> ctypes.CDLL:
    lib = ctypes.CDLL(pj._pjsua2.__file__)
    void_p, c_int = ctypes.c_void_p, ctypes.c_int
    signatures: dict[str, tuple[object, list[object]]] = {
        "pjsua_call_get_max_count": (ctypes.c_uint, []),
        "pjsua_call_get_count": (ctypes.c_uint, []),
        "pjsua_call_is_active": (c_int, [c_int]),
        "pjsua_call_get_user_data": (void_p, [c_int]),
        "pjsua_get_pjsip_endpt": (void_p, []),
        "pjsua_pool_create": (void_p, [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t]),
        "pj_pool_release": (None, [void_p]),
        "pj_list_insert_before": (None, [void_p, void_p]),
        "pjsip_retry_after_hdr_create": (void_p, [void_p, c_int]),
        "pjsip_endpt_respond_stateless": (
            c_int,
            [void_p, void_p, c_int, ctypes.POINTER(_PjStr), void_p, void_p],
        ),
        "pjsip_ua_find_dialog": (void_p, [ctypes.POINTER(_PjStr)] * 3 + [c_int]),
        "pjsip_dlg_get_inv_session": (void_p, [void_p]),
        "pjsip_inv_terminate": (c_int, [void_p, c_int, c_int]),
        "pjsip_dlg_dec_lock": (None, [void_p]),
        "pjsip_rx_data_get_info": (ctypes.c_char_p, [void_p]),
        "pjsip_get_response_addr": (c_int, [void_p, void_p, void_p]),
        "pjsip_endpt_register_module": (c_int, [void_p, void_p]),
        "pjsip_endpt_unregister_module": (c_int, [void_p, void_p]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


def call_cap() -> int:
    """pjsua's real concurrent-call limit (the wheel's compile-time PJSUA_MAX_CALLS)."""
    return int(_lib().pjsua_call_get_max_count())


def call_count() -> int:
    """Call slots pjsua holds right now, inbound and outbound."""
    return int(_lib().pjsua_call_get_count())


def call_slot_state(call_id: int, call_object: int) -> str:
    """What slot CALL_ID is to CALL_OBJECT (the address of a pjsua2 `Call`): "idle" (no live
    call, no other object attached), "own" (its live call), or "taken" (another's)."""
    if not 0 <= call_id < call_cap():
        return "idle"
    lib = _lib()
    attached = lib.pjsua_call_get_user_data(call_id)
    if attached is not None and attached != call_object:
        return "taken"
    if lib.pjsua_call_is_active(call_id):
        return "own" if attached == call_object else "taken"
    return "idle"


def respond_stateless(rx_data: int, code: int, reason: str, retry_after: int | None) -> bool:
    """Answer the request behind `rx_data` (a `pjsip_rx_data *`) without a transaction.

    Nothing is kept: no transaction, no dialog, no media. With `retry_after`, the response
    carries `Retry-After: N` (RFC 3261 §21.5.4: a proxy in front then tries another worker
    and leaves this one alone for N seconds).
    """
    lib = _lib()
    pool = lib.pjsua_pool_create(b"refuse", 512, 512)
    if not pool:
        return False
    try:
        head = _HeaderListHead()
        head.prev = head.next = ctypes.addressof(head)
        if retry_after is not None:
            header = lib.pjsip_retry_after_hdr_create(pool, int(retry_after))
            if header:
                lib.pj_list_insert_before(ctypes.addressof(head), header)
        text = _PjStr.of(reason)
        status = lib.pjsip_endpt_respond_stateless(
            lib.pjsua_get_pjsip_endpt(), rx_data, code, ctypes.byref(text),
            ctypes.addressof(head), None,
        )  # fmt: skip
        return bool(status == PJ_SUCCESS)
    finally:
        lib.pj_pool_release(pool)


def terminate_dialog(sip_call_id: str, local_tag: str, remote_tag: str, code: int) -> bool:
    """End an INVITE session at once, whatever its state; False when no such dialog exists.

    `Call.hangup` on an answered call that was never ACKed only queues the BYE until the ACK
    arrives or pjsip's 2xx retransmissions give up (64*T1 = 32 s), and the call slot stays
    taken all that time. `pjsip_inv_terminate` disconnects the session now: pjsua frees
    the slot, and pjsip still sends the BYE the dialog owes.
    """
    lib = _lib()
    call_id, local, remote = (_PjStr.of(s) for s in (sip_call_id, local_tag, remote_tag))
    dialog = lib.pjsip_ua_find_dialog(
        ctypes.byref(call_id), ctypes.byref(local), ctypes.byref(remote), 1
    )
    if not dialog:
        return False
    try:
        session = lib.pjsip_dlg_get_inv_session(dialog)
        return bool(session) and lib.pjsip_inv_terminate(session, code, 1) == PJ_SUCCESS
    finally:
        lib.pjsip_dlg_dec_lock(dialog)


# pjsip's module priorities: the transaction layer is 16, dialogs 32, dialog usages (INVITE
# sessions) 48, pjsua's application module 64. Between the last two, a module sees exactly
# the requests outside any dialog and transaction, before pjsua turns an INVITE into a call.
PRIORITY_BEFORE_PJSUA = 63


class RequestFilter:
    """A pjsip module that sees each new out-of-dialog request before pjsua does.

    `callback(rx_data)` returns True when it has dealt with the request (answered it with
    `respond_stateless`, or decided to drop it); pjsua then never sees it. Keep the object
    referenced until `unregister()`: pjsip holds raw pointers to it.
    """

    def __init__(self, name: str, callback: Callable[[int], bool]) -> None:
        def on_rx_request(rx_data: int | None) -> int:
            try:
                return int(bool(rx_data) and callback(int(rx_data)))  # type: ignore[arg-type]
            except Exception:  # an exception here would be printed and lost by ctypes
                log.exception("request filter failed; the request goes on to pjsua")
                return 0

        self._name = name.encode()
        self._callback = RequestCallback(on_rx_request)
        self._module = _Module(
            name=_PjStr(self._name, len(self._name)), id=-1,
            priority=PRIORITY_BEFORE_PJSUA, on_rx_request=self._callback,
        )  # fmt: skip
        self.registered = False

    def register(self) -> None:
        lib = _lib()
        status = lib.pjsip_endpt_register_module(
            lib.pjsua_get_pjsip_endpt(), ctypes.byref(self._module)
        )
        if status != PJ_SUCCESS:
            raise OSError(f"cannot register the pjsip module {self._name.decode()}: {status}")
        self.registered = True

    def unregister(self) -> None:
        """Before `libDestroy`: the endpoint must not call into freed Python objects."""
        if self.registered:
            lib = _lib()
            lib.pjsip_endpt_unregister_module(
                lib.pjsua_get_pjsip_endpt(), ctypes.byref(self._module)
            )
            self.registered = False


def request_line(rx_data: int) -> str:
    """pjsip's one-line summary: 'Request msg INVITE/cseq=1 (rdata0x...)'."""
    info = _lib().pjsip_rx_data_get_info(rx_data)
    return info.decode(errors="replace") if info else ""


def source_host(rx_data: int) -> str:
    """The address a request came from, as pjsip will answer it (RFC 3261 §18.2.2).

    That is the packet's source (pjsip always records it as the top Via's `received`),
    except when the Via names a `maddr`: then the maddr, which is where a response goes.
    """
    lib = _lib()
    pool = lib.pjsua_pool_create(b"source", 256, 256)
    if not pool:
        return ""
    try:
        where = _ResponseAddr()
        if lib.pjsip_get_response_addr(pool, rx_data, ctypes.byref(where)) != PJ_SUCCESS:
            return ""
        return where.dst_host.host.text()
    finally:
        lib.pj_pool_release(pool)
