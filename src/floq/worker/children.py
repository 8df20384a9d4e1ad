"""What the processes a worker starts do about signals: ignore Ctrl-C, end with their parent.

A terminal's Ctrl-C sends SIGINT to the whole foreground process group. Only the worker
decides what it means (drain first, hand back on a second one), so the processes it starts
(parallel mode's pool, a dask-mode LocalCluster, flow slots and their RQ work horses) never
see it: they are started while SIGINT is blocked in the starting thread (the mask survives
fork and exec, so a Ctrl-C cannot raise in a child that is still booting) and then ignore it.

A process whose worker is gone (killed with SIGKILL, say) ends at once: Linux's
``PR_SET_PDEATHSIG`` (SIGKILL when the thread that started it ends) where there is one, and a
thread watching the parent pid everywhere.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

from floq.runners.process_pool import exit_with_parent, sigint_blocked

__all__ = ["die_with_parent", "forks_die_with_parent", "ignore_sigint", "sigint_blocked"]

_PR_SET_PDEATHSIG = 1


def ignore_sigint() -> None:
    """Ignore SIGINT from now on (main thread only); a pending one is dropped."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def die_with_parent(parent: int) -> None:
    """End this process (SIGKILL, or ``os._exit``) as soon as process ``parent`` is gone."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watching thread still ends it
    exit_with_parent(parent)


class _Forking:
    parent = 0


def _before_fork() -> None:
    _Forking.parent = os.getpid()


def forks_die_with_parent() -> None:
    """Every process this one forks from now on ends with its parent (PDEATHSIG does not
    survive fork): RQ's work horses and its scheduler, in a flow slot."""
    os.register_at_fork(
        before=_before_fork, after_in_child=lambda: die_with_parent(_Forking.parent)
    )
