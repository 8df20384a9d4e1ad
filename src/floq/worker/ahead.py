"""Claiming ahead, in concurrent mode: entries claimed beyond the free slots, while attempts
are short and the queues hold more.

A worker that claims only for its free slots leaves them idle for every claim's round trip,
and with short attempts that is most of the time: each batch runs in far less time than the
next one takes to come. So while its queues hold more than it asks for (its last claim brought
all it asked for) and its recent attempts are short (under :data:`SHORT_S` on average), a
concurrent-mode worker claims up to :data:`TIMES` times its ``--concurrency`` beyond its free
slots (Celery and dramatiq call this prefetching; Celery's default is 4 times, too). Those
entries wait here, in claim order; a slot an attempt frees takes the next one at once, on the
thread that freed it. Bigger claims and bigger batches of outcomes also cost Redis and the
worker less per task run.

Short attempts are what keep this fair: what waits here is :data:`TIMES` short attempts per
slot (20 ms of work at most), not work another worker is idle for. With longer attempts (or
before the first has ended), or once a claim comes back short of what it asked for, the worker
claims only for free slots: so a burst of long tasks spreads over every worker, even one that
comes right after a run of short ones. A run of long tasks right behind short ones in a backlog
can find some of them claimed ahead, behind attempts that turned out long: :data:`TIMES` times
``--concurrency`` at most, and the running mean soon stops more.

A stopping worker hands the waiting entries back to their queue unstarted, and drops those of a
cancelled flow run (``cancel.lua`` took their entries back).

The caller holds its own lock around every method: this class keeps no lock of its own.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from floq.store.protocol import Claim

SHORT_S = 0.005  # attempts shorter than this on average: claim ahead
TIMES = 4  # up to this many times --concurrency (Celery's default prefetch multiplier)
_WEIGHT = 0.1  # of the latest attempt in the running mean


class ClaimAhead:
    def __init__(self, slots: int) -> None:
        """``slots``: the worker's ``--concurrency`` (0: never claim ahead)."""
        self._limit = TIMES * slots  # how many entries at most may wait here
        self._waiting: deque[Claim] = deque()
        self._began: dict[str, float] = {}  # entry id -> when its attempt was handed out
        self._mean = float("inf")  # seconds an attempt took, a running mean
        self._backlog = False  # the last claim brought all it asked for

    def __len__(self) -> int:
        return len(self._waiting)

    def room(self) -> int:
        """How many entries may be claimed beyond the free slots now."""
        if not self._backlog or self._mean >= SHORT_S:
            return 0  # (also when it never claims ahead: the mean stays infinite)
        return self._limit

    def claimed(self, asked: int, got: int) -> None:
        """A claim for ``asked`` entries brought ``got``: all of them means the queues hold
        more (a backlog), and only then is there room to claim ahead."""
        self._backlog = got >= asked > 0

    def add(self, claims: list[Claim]) -> None:
        self._waiting.extend(claims)

    def take(self, free: int) -> list[Claim]:
        """Up to ``free`` waiting claims, the oldest first, to start now."""
        count = min(free, len(self._waiting))
        if count <= 0:
            return []
        taken = [self._waiting.popleft() for _ in range(count)]
        if self._limit:
            now = time.monotonic()
            for claim in taken:
                self._began[claim.entry_id] = now
        return taken

    def ended(self, entry_id: str) -> None:
        """The attempt of ``entry_id`` ended: it counts in the running mean."""
        began = self._began.pop(entry_id, None)
        if began is not None:
            took = time.monotonic() - began
            mean = self._mean
            self._mean = took if mean == float("inf") else mean + _WEIGHT * (took - mean)

    def drop(self, which: Callable[[Claim], bool]) -> list[Claim]:
        """Take out the waiting claims ``which`` picks (they will not start here)."""
        dropped = [claim for claim in self._waiting if which(claim)]
        if dropped:
            self._waiting = deque(claim for claim in self._waiting if not which(claim))
        return dropped
