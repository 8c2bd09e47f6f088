"""Rasa's processes die with the process that started them, however it dies.

A server killed with SIGKILL runs no cleanup code: a Rasa it started would live on as an
orphan holding its port, and the next server's Rasa would crash-loop on that port while the
orphan answered the health checks. So each child asks the kernel, between fork and exec, for
SIGKILL when its parent thread ends (`prctl(PR_SET_PDEATHSIG)`, kept across exec); it exits
at once if the parent is already gone. Start these children from a thread that lives as long
as the parent: the event loop's, or a worker thread blocked in `subprocess.run`.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


@functools.cache
def _prctl() -> Callable[..., int]:
    # Loaded in the parent: the child, between fork and exec, should only call into it.
    prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    return prctl


def die_with_parent() -> Callable[[], None]:
    """A `preexec_fn` for `subprocess`/`asyncio` that ties the child's life to ours."""
    prctl, parent = _prctl(), os.getpid()

    def in_child() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)

    return in_child
