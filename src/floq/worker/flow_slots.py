"""Flow slots: RQ workers a flow-worker starts and supervises, each running one flow run at once.

Each slot is a child process running RQ's own ``Worker`` (a work horse forked per flow run, so
``FlowRun.cancel()`` can stop a running one) with RQ's scheduler, on RQ's queues
``<namespace>:<queue>`` of the daemon's queues. A slot that dies is started again (with a new
name: RQ keeps the old one registered until it notices the death).

Signals: a slot runs in a process group of its own and ignores SIGINT, so a terminal's Ctrl-C
reaches the flow-worker alone. On the worker's drain (its first SIGINT or SIGTERM) every slot
gets SIGTERM, RQ's warm shutdown: no new flow runs, the current one finishes. Slots still
running after ``FLOQ_DRAIN_SECONDS`` (or on a second Ctrl-C) get a second SIGTERM, RQ's cold
shutdown: RQ kills the work horse, and the flow run is abandoned as RQ abandons jobs (retried if
it has RQ retries left, else it ends Crashed); a slot still there 5 s later is killed.

If the flow-worker dies however it dies (``kill -9`` too), its slots, their work horses and
their RQ schedulers end at once (:mod:`floq.worker.children`). The heartbeat lists the slots
(name and pid) for ``floq workers``.

RQ's own CLI runs one by hand too: ``rq worker -S floq.store.rq_jobs.JobSerializer floq:default``.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from rq import Worker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.scheduler import RQScheduler

from floq.worker.children import die_with_parent, forks_die_with_parent, ignore_sigint

logger = logging.getLogger("floq.worker")

_RESTART_PAUSE = 1.0  # seconds between a slot's death and its restart
# RQ's maintenance (it starts a scheduler where none runs) comes after a blocking dequeue of
# worker TTL - 15 s, and at most every maintenance interval: 405 s and 10 min by default.
_MAINTENANCE_SECONDS = 30
_COLD_SECONDS = 5.0  # for RQ's cold shutdown, before a slot is killed


class FlowSlots:
    def __init__(self, config: Any) -> None:
        self._config = config
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._names: dict[int, str] = {}
        self._started = 0
        self._lock = threading.RLock()  # RLock: request_stop() may run in a signal handler
        self._stopping = threading.Event()  # no more restarts
        self._warm_sent = 0.0  # when the slots got SIGTERM (monotonic)
        self._done = threading.Event()  # the slots are gone: the supervisor may end
        self.started: Callable[[], None] = lambda: None  # called as each slot starts
        # Slots are started from this thread only, and it lives until they are gone: their
        # PDEATHSIG fires when the thread that started them ends, not only the process.
        self._thread = threading.Thread(target=self._supervise, name="floq-flow-slots", daemon=True)

    @property
    def count(self) -> int:
        return int(self._config.flow_slots)

    def start(self) -> None:
        if self.count:
            self._thread.start()

    def describe(self) -> list[dict[str, Any]]:
        """Name and pid of each running slot (for the heartbeat)."""
        with self._lock:
            procs = [(self._names[slot], proc) for slot, proc in self._procs.items()]
        return [{"name": name, "pid": proc.pid} for name, proc in procs if proc.poll() is None]

    def _spawn(self, slot: int) -> None:
        config = self._config
        self._started += 1
        name = f"{config.name}-flow-{slot}.{self._started}"
        env = dict(os.environ)
        env.update(FLOQ_REDIS_URL=config.url, FLOQ_NAMESPACE=config.settings.namespace,
                   FLOQ_LOG_FORMAT=config.settings.log_format)  # fmt: skip
        code = "import sys; from floq.worker.flow_slots import main; main(sys.argv[1:])"
        argv = [sys.executable, "-c", code, str(os.getpid()), name, *config.queues]
        self._procs[slot] = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, process_group=0
        )
        self._names[slot] = name
        self.started()

    def _supervise(self) -> None:
        with self._lock:
            for slot in range(self.count):
                if not self._stopping.is_set():
                    self._spawn(slot)
        while not self._done.wait(_RESTART_PAUSE):
            with self._lock:
                for slot, proc in list(self._procs.items()):
                    if proc.poll() is not None and not self._stopping.is_set():
                        logger.warning(
                            "flow slot %d exited (%s); starting it again", slot, proc.returncode
                        )
                        self._spawn(slot)

    def _alive(self) -> list[subprocess.Popen[bytes]]:
        with self._lock:
            return [proc for proc in self._procs.values() if proc.poll() is None]

    def request_stop(self) -> None:
        """SIGTERM every slot (RQ's warm shutdown: no new flow runs, the current ones finish)."""
        with self._lock:
            if self._stopping.is_set():
                return
            self._stopping.set()
            self._warm_sent = time.monotonic()
            for proc in self._alive():
                proc.send_signal(signal.SIGTERM)

    def running(self) -> bool:
        return bool(self._alive())

    def stop(self, deadline: Callable[[], float]) -> None:
        """Stop the slots: those still running a flow run at ``deadline()`` (a monotonic time)
        get RQ's cold shutdown, and are killed if that takes over ``_COLD_SECONDS``."""
        self.request_stop()
        while self.running() and time.monotonic() < deadline():
            time.sleep(0.05)
        if self.running():
            self._cold_stop()
        for proc in list(self._procs.values()):
            proc.wait(timeout=10)
        self._done.set()

    def _cold_stop(self) -> None:
        """SIGTERM again: RQ kills the work horse (its flow run is abandoned, as RQ does: RQ
        retries it if it has retries left, else it ends Crashed) and exits."""
        logger.warning("flow slot pid(s) %s: stopping the flow run(s) they hold",
                       ", ".join(str(proc.pid) for proc in self._alive()))  # fmt: skip
        time.sleep(max(0.0, self._warm_sent + 1.1 - time.monotonic()))  # RQ: no repeat within 1 s
        for proc in self._alive():
            proc.send_signal(signal.SIGTERM)
        end = time.monotonic() + _COLD_SECONDS
        while self.running() and time.monotonic() < end:
            time.sleep(0.05)
        for proc in self._alive():
            logger.warning("flow slot pid %d did not stop; killing it", proc.pid)
            proc.kill()  # its work horse and scheduler end with it (PDEATHSIG)


class SlotWorker(Worker):
    """RQ's worker, stopped by SIGTERM only (Ctrl-C is the flow-worker's to act on), with a
    :class:`SlotScheduler`; its maintenance (which starts a scheduler where none runs, or
    takes over the lock of one that died) runs every 30-60 s, not every 10 minutes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("maintenance_interval", _MAINTENANCE_SECONDS)
        kwargs.setdefault("worker_ttl", _MAINTENANCE_SECONDS + 15)  # dequeues block 30 s
        super().__init__(*args, **kwargs)

    def _install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.request_stop)

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: Any = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ) -> None:
        """As RQ's, with a scheduler that outlives a lost connection (slots never burst)."""
        level = logging_level if logging_level is not None else self.log.level
        self.scheduler = SlotScheduler(
            self.queues, connection=self.connection, logging_level=level,
            date_format=date_format, log_format=log_format, serializer=self.serializer,
        )  # fmt: skip
        self.scheduler.acquire_locks(auto_start=True)  # type: ignore[no-untyped-call]


class SlotScheduler(RQScheduler):
    """RQ's scheduler (delayed flow runs, RQ retries with an interval), which rides out a lost
    Redis connection. RQ's own dies of one, and its worker starts it again only at its next
    maintenance: after a Redis restart, delayed flow runs stayed Scheduled for minutes."""

    def work(self) -> None:
        self._install_signal_handlers()  # type: ignore[no-untyped-call]
        self._lost = False
        self._guarded(self.register_birth)
        while not self._stop_requested:
            self._guarded(self._beat)
            time.sleep(self.interval)
        self._guarded(self.stop)

    def _beat(self) -> None:  # RQ's own loop, one turn
        rq: Any = self  # RQ's scheduler is not typed
        if rq.should_reacquire_locks:
            rq.acquire_locks()
        rq.heartbeat()
        rq.enqueue_scheduled_jobs()

    def _guarded(self, step: Callable[[], Any]) -> None:
        try:
            step()
        except (redis.ConnectionError, redis.TimeoutError) as error:
            if not self._lost:
                self.log.warning("scheduler: lost Redis (%s); trying every %g s", error,
                                 self.interval)  # fmt: skip
            self._lost = True
            return
        if self._lost:
            self.log.warning("scheduler: Redis is back")
            self._lost = False


def main(argv: list[str]) -> None:
    """One slot: RQ's worker on the flow-run queues, with RQ's scheduler."""
    parent, name, *queues = argv
    die_with_parent(int(parent))
    ignore_sigint()
    forks_die_with_parent()

    import redis
    from rq import Queue

    from floq import logs
    from floq.settings import get_settings
    from floq.store.embedded import redis_url_or_embedded
    from floq.store.keys import rq_queue_name
    from floq.store.rq_jobs import JobSerializer

    settings = get_settings()
    logs.set_worker_name(name)
    url = settings.flow_run_redis_url or redis_url_or_embedded(settings)
    connection = redis.Redis.from_url(url)
    rq_queues = [
        Queue(rq_queue_name(settings.namespace, q), connection=connection, serializer=JobSerializer)
        for q in queues
    ]
    worker = SlotWorker(rq_queues, connection=connection, name=name, serializer=JobSerializer)
    level = "DEBUG" if settings.log_level == "DEBUG" else "WARNING"
    worker.work(with_scheduler=True, logging_level=level)
