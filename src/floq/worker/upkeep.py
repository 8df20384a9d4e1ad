"""A worker's upkeep thread: heartbeat, reaping lapsed workers, promoting due retries, and
hearing of cancelled flow runs (read with each heartbeat).

Liveness is judged by a worker's heartbeat key (refreshed here, from a thread of its own,
however busy the task threads are), never by how long an entry has been pending: a long task
on a live worker is never taken from it.

Every worker reaps on every queue of its namespace, not only on those it serves: each
heartbeat adds the worker's queues to the namespace's set of served queues, and the reaper
walks that set. So the claims of a worker killed with ``kill -9`` go back on their own queue
even when no other worker serves it; they wait there for one that does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from floq.errors import FloqError
from floq.store.protocol import Claim, TaskRunProtocol, WorkerRegistry
from floq.worker.attempt import crashed

logger = logging.getLogger("floq.worker")

_PAUSE = 0.1  # after a Redis error, before trying again (s)
_ORPHAN_IDLE_MS = 5000  # a claimed entry not received for this long is an orphan


class Upkeep:
    def __init__(self, protocol: TaskRunProtocol, config: Any) -> None:
        self._protocol, self._config = protocol, config
        self._registry = WorkerRegistry(protocol.client, protocol.keys)
        self._stop = threading.Event()
        self._wake = threading.Event()  # set by stop() and retry_due()
        self._lock = threading.Lock()
        self._retry_at = float("inf")  # monotonic time of a retry this worker scheduled
        self._beat_now = False  # set by beat_soon()
        self._thread = threading.Thread(target=self._loop, name="floq-upkeep", daemon=True)
        self.inflight = 0
        self.started = time.time()
        # called with the ids of recently cancelled flow runs, once per heartbeat
        self.on_cancelled: Callable[[set[str]], None] | None = None
        # the running flow slots, name and pid each (shown by `floq workers`)
        self.flow_slots: Callable[[], list[dict[str, Any]]] = list
        # the entry ids this worker holds (claimed and received), to tell orphans apart
        self.held: Callable[[], set[str]] = set
        # called after each heartbeat written (the metrics' heartbeat age)
        self.on_beat: Callable[[], None] | None = None

    def start(self) -> None:
        self.beat()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(redis.RedisError):
            self._registry.unregister(self._config.name)

    def beat(self) -> None:
        config = self._config
        info = {
            "name": config.name,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "mode": config.mode,
            "slots": config.capacity,
            "flow_slots": config.flow_slots,
            "flow_slot_workers": self.flow_slots(),
            "queues": list(config.queues),
            "inflight": self.inflight,
            "heartbeat": time.time(),
            "started": self.started,
        }
        ttl_ms = int(config.settings.worker_ttl * 1000)
        cancelled = self._registry.beat(info, ttl_ms)
        if self.on_beat is not None:
            self.on_beat()
        if cancelled and self.on_cancelled is not None:
            self.on_cancelled(cancelled)

    def beat_soon(self) -> None:
        """Write the heartbeat now, not at its next interval (a flow slot started: `floq
        workers` shows its pid at once)."""
        with self._lock:
            self._beat_now = True
        self._wake.set()

    def promote(self) -> float:
        """Put due retries back on their queues; when (monotonic) the next one is due."""
        _, due = self._protocol.promote()
        if due is None:
            return float("inf")
        return time.monotonic() + max(0.0, due - time.time())

    def retry_due(self, delay: float) -> None:
        """A retry this worker just wrote is due in ``delay`` seconds: promote it then."""
        when = time.monotonic() + delay
        with self._lock:
            self._retry_at = min(self._retry_at, when)
        self._wake.set()

    def reap(self) -> int:
        """Hand back the pending entries of every consumer whose heartbeat lapsed."""
        registry = self._registry
        registry.forget_lapsed()  # gone: off the list of workers
        taken = 0
        for queue in sorted(registry.served_queues() | set(self._config.queues)):
            for name in self._protocol.consumers(queue):
                if name == self._config.name or registry.is_live(name):
                    continue
                taken += self.hand_back(queue, name, lost=True)
        for queue in self._config.queues:
            taken += self.hand_back_orphans(queue)
        return taken

    def hand_back_orphans(self, queue: str) -> int:
        """Hand back the entries pending under this worker's own name that it never received:
        a claim whose reply a Redis outage lost (the server delivered the entries, the
        connection broke before they arrived). Nobody else would: this worker is alive."""
        me = self._config.name
        idle = self._protocol.idle_entries(queue, me, _ORPHAN_IDLE_MS)
        held = self.held() if idle else set()
        orphans = [entry for entry in idle if entry not in held]
        if not orphans:
            return 0
        count = self._protocol.hand_back_entries(queue, me, orphans)
        logger.warning("handed back %d task run(s) on queue %s claimed by this worker but never "
                       "received (a reply lost to a Redis outage)", count, queue)  # fmt: skip
        return count

    def hand_back(self, queue: str, consumer: str, lost: bool = False) -> int:
        """Put ``consumer``'s pending entries of ``queue`` back as new entries. If it is a lost
        worker (``lost``), a run lost with its worker ``FLOQ_MAX_LOST_ATTEMPTS`` times ends
        Crashed instead."""
        limit = self._config.settings.max_lost_attempts if lost else 0
        total, given_up = self._protocol.take_back(queue, consumer, limit, self._config.name)
        if total:
            logger.warning("handed back %d task run(s) of worker %s on queue %s%s",
                           total, consumer, queue, " (lost)" if lost else "")  # fmt: skip
        if given_up:
            self._give_up(given_up, limit)
        return total

    def _give_up(self, claims: list[Claim], limit: int) -> None:
        secret = self._config.settings.secret
        why = FloqError(
            f"its worker was lost {limit} times while running it (FLOQ_MAX_LOST_ATTEMPTS): "
            "a task that ends its process (a crash, os._exit, the OOM killer) would take down "
            "every worker in turn; not run again"
        )
        names = self._protocol.run_names(claims)
        outcomes = [(c, crashed(c, why, secret, names.get(c.task_run_id))) for c in claims]
        self._protocol.complete(self._config.name, outcomes)
        for claim in claims:
            name = names.get(claim.task_run_id, "?")
            logger.error("task run %r (%s) of flow run %s ended Crashed: %s",
                         name, claim.task_run_id, claim.flow_run_id, why)  # fmt: skip

    def _loop(self) -> None:
        """Beat and reap on their intervals; promote when a retry is due, not on a tick.

        The next due time comes from each promotion; a retry this worker schedules wakes
        it (:meth:`retry_due`); every heartbeat promotes too, so retries scheduled by a worker
        that left are promoted by the others at most a heartbeat late. An idle worker makes a
        round trip or two a heartbeat, not ten a second."""
        settings = self._config.settings
        next_reap = promote_at = time.monotonic()
        next_beat = next_reap + settings.heartbeat_seconds  # start() beat
        while not self._stop.is_set():
            now = time.monotonic()
            with self._lock:
                promote_at, self._retry_at = min(promote_at, self._retry_at), float("inf")
                beat_now, self._beat_now = self._beat_now, False
            pause = 0.0
            try:
                if now >= next_beat or beat_now:
                    self.beat()
                    next_beat = now + settings.heartbeat_seconds
                    promote_at = now  # retries others scheduled, at least once a heartbeat
                if now >= promote_at:
                    promote_at = self.promote()
                if now >= next_reap:
                    self.reap()
                    next_reap = now + settings.reap_seconds
            except redis.RedisError as error:
                logger.error("upkeep: Redis error: %s", error)
                pause = _PAUSE
            until = min(next_beat, next_reap, promote_at)
            self._wake.wait(max(pause, until - time.monotonic()))
            self._wake.clear()
