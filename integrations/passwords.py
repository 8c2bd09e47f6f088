"""Staff password hashes: Argon2id (argon2-cffi), checked off the event loop, a few at a time.

Measured on the 2-core machine (`clinicline bench --only-signin`): Argon2id at OWASP's setting
(19 MiB, 2 passes, 1 lane) takes ~17 ms and releases the GIL; the scrypt we used before
(16 MiB, n=2^14, r=8) took ~29 ms. cryptography's own Argon2id holds the GIL while it
runs (a thread hashing it stalled the event loop for ~40 ms), so argon2-cffi it is.
Hashes written earlier (`scrypt$n$r$p$salt$hash`) still verify; `needs_rehash` says when a
successful sign-in should store a new hash.

The loop that serves the console also polls SIP, so hashing never runs on it:
`PasswordWorkers` runs it in a small thread pool and bounds how many wait.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_ARGON2 = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified instead of a real hash when the username is unknown: the same work, the same time.
_DUMMY_HASH = _ARGON2.hash("no such user: this hash is only ever compared, never matched")


def hash_password(password: str) -> str:
    return _ARGON2.hash(password)


def verify_password(password: str, stored: str | None) -> bool:
    """True when `password` matches `stored`; with None (unknown user) a dummy hash is checked
    so the answer takes as long. Malformed hashes never match."""
    if stored is None:
        _verify_argon2(password, _DUMMY_HASH)
        return False
    if stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored)
    return _verify_argon2(password, stored)


def needs_rehash(stored: str) -> bool:
    """True for hashes of an older scheme or weaker settings than today's."""
    if not stored.startswith("$argon2"):
        return True
    try:
        return _ARGON2.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def _verify_argon2(password: str, stored: str) -> bool:
    try:
        return _ARGON2.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _verify_scrypt(password: str, stored: str) -> bool:
    """The earlier scheme: `scrypt$n$r$p$salt$hash`, base64 salt and hash."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


class HashingBusy(Exception):
    """More sign-ins are waiting for a hash than the pool lets wait: answer 503, retry soon."""


# Linux nice value of the hashing threads: a core shared with a call's recogniser goes to the
# call first (a sign-in waiting 20 ms more is fine; a caller waiting is not).
HASH_THREAD_NICE = 10


def _lower_priority() -> None:
    # Not Linux, or not allowed: the thread runs at normal priority.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_THREAD_NICE)


class PasswordWorkers:
    """Hash and verify in `workers` threads (argon2 releases the GIL) at a lower CPU priority;
    at most `max_waiting` requests queue behind them, the rest are turned away at once
    instead of piling up."""

    def __init__(self, workers: int = 1, max_waiting: int = 32) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, workers), thread_name_prefix="pwhash", initializer=_lower_priority
        )
        self._slots = asyncio.Semaphore(max(1, workers))
        self._max_waiting = max_waiting
        self._waiting = 0
        self.computed = 0  # hashes computed or compared so far (benchmarks, tests)

    async def _run(self, fn: object, *args: str | None) -> object:
        if self._waiting >= self._max_waiting:
            raise HashingBusy("too many sign-ins at once")
        self._waiting += 1
        try:
            async with self._slots:
                loop = asyncio.get_running_loop()
                self.computed += 1
                return await loop.run_in_executor(self._pool, fn, *args)  # type: ignore[arg-type]
        finally:
            self._waiting -= 1

    async def verify(self, password: str, stored: str | None) -> bool:
        return bool(await self._run(verify_password, password, stored))

    async def hash(self, password: str) -> str:
        return str(await self._run(hash_password, password))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
