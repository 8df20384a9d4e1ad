"""The worker daemon: claim batches bounded by free capacity, run them, complete in batches.

Threads: the main one claims (blocking XREADGROUP, never more entries than free slots, but for
those claimed ahead while attempts are short: :mod:`floq.worker.ahead`); the completer's
writes outcomes back in batches (:mod:`floq.worker.completer`); the upkeep thread
heartbeats, reaps and promotes retries.

Stopping (:meth:`Worker.handle_signals`), as RQ and Celery users expect:
- The first SIGINT (Ctrl-C) or SIGTERM (or :meth:`Worker.stop`) drains, and says so on stderr:
  claiming stops (unless a flow run in a flow slot still needs task runs), in-flight runs get
  ``FLOQ_DRAIN_SECONDS`` to finish; what is left then goes back to its queue, to run elsewhere.
  The processes the worker started ignore SIGINT: a Ctrl-C reaches their work only this way.
- A second one (:meth:`Worker.abort`) hands every unfinished task run back at once, kills the
  pool processes still busy, gives busy flow slots RQ's cold shutdown, and exits.
- A run lost to the shutdown (a pool process killed, say) is handed back, never recorded
  Crashed; no signal reaches the app as KeyboardInterrupt. Idle, the worker exits at once.
- ``kill -9``: the processes the worker started end with it (:mod:`floq.worker.children`);
  other workers reap its claims once its heartbeat lapses (:mod:`floq.worker.upkeep`).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from typing import Any

import redis

from floq.store.connection import check, connect, redacted
from floq.store.keys import Keys
from floq.store.protocol import Claim, Malformed, Result, TaskRunProtocol
from floq.store.records import CodeCache
from floq.worker.ahead import ClaimAhead
from floq.worker.attempt import crashed, undecodable
from floq.worker.completer import Completer
from floq.worker.config import WorkerConfig
from floq.worker.executors import DaskExecutor, Executor, ProcessExecutor, ThreadExecutor
from floq.worker.flow_slots import FlowSlots
from floq.worker.metrics import WorkerMetrics
from floq.worker.upkeep import Upkeep

logger = logging.getLogger("floq.worker")


class Worker:
    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.keys = Keys(config.settings.namespace)
        self._secret = config.settings.secret
        self._client: Any = connect(config.url)
        check(self._client, config.url)
        self._reader: Any = connect(config.url, blocking=True)
        self._protocol = TaskRunProtocol(self._client, self.keys, config.settings.result_ttl)
        self._stopping = threading.Event()
        self._slots = threading.Condition()
        self._inflight: dict[str, Claim] = {}  # claimed, outcome not written yet
        self._ended: set[str] = set()  # entry ids in flight whose attempt ended: slots free
        self._receiving: set[str] = set()  # entry ids claimed, their inputs being fetched
        self._reserved = 0  # slots a claim is under way for (the claim thread's, or a refill)
        self._interrupted: set[str] = set()  # entry ids
        self._ahead = ClaimAhead(config.concurrency if config.mode == "concurrent" else 0)
        self._upkeep = Upkeep(self._protocol, config)
        self._executor: Executor | None = None
        self._codes = CodeCache()  # task code bytes by content address
        self._flow_slots = FlowSlots(config)
        self._metrics = _metrics(config, self._client, self.keys)
        recorded = None if self._metrics is None else self._metrics.recorded
        self._completer = Completer(
            self._protocol, config.name, self._forget, recorded, self._upkeep.retry_due
        )
        self._deadline = float("inf")  # of the drain, once stopping
        self._closed = False  # unfinished runs were handed back: outcomes are not written
        # A lone outcome is written by the thread that ran it (one hand-off less), but not by
        # the pool's or the Dask client's thread: it would hand out nothing until it is back.
        self._write_inline = config.mode == "concurrent"
        # Parallel mode: the pool's thread claims for the slot an attempt just freed (_refill).
        self._refill_on_done = config.mode == "parallel"

    # --- starting and stopping ----------------------------------------------------------------
    def handle_signals(self) -> None:
        """SIGINT (Ctrl-C) and SIGTERM: the first drains (:meth:`stop`), a second :meth:`abort`."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._stopping.is_set():
            self.abort()
        else:
            self.stop("Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name)

    def stop(self, again: str = "Ctrl-C") -> None:
        """Stop claiming and drain (what the first SIGINT or SIGTERM does).

        Flow slots stop taking flow runs at once; task runs are still claimed while a flow
        run in a slot goes on (it may wait for them), up to ``FLOQ_DRAIN_SECONDS``."""
        if self._stopping.is_set():
            return
        seconds = self.config.settings.drain_seconds
        self._deadline = time.monotonic() + seconds
        self._stopping.set()
        slots = len(self._flow_slots.describe())
        self._flow_slots.request_stop()
        if not (self._inflight or slots):
            logger.info("stopping: nothing in flight")
            return
        ahead = len(self._ahead)  # they go back unstarted
        busy = f"{_count(len(self._inflight) - ahead, 'task run')} in flight"
        busy += f" ({ahead} more claimed ahead go back now)" if ahead else ""
        if slots:  # a flow run in a slot, if there is one, finishes first
            busy += f", {_count(slots, 'flow slot')} finishing any flow run it has"
        logger.warning("draining: %s, up to %g s; %s again to hand them back",
                       busy, seconds, again)  # fmt: skip

    def abort(self) -> None:
        """Hand every unfinished task run back to its queue now, and exit (a second Ctrl-C)."""
        self.stop()
        self._deadline = time.monotonic()
        logger.warning("stopping now: handing back %s", _count(len(self._inflight), "task run"))

    def _claiming(self) -> bool:
        if not self._stopping.is_set():
            return True
        return self._flow_slots.running() and time.monotonic() < self._deadline

    def start(self) -> None:
        """Everything but the claim loop; FloqError or a Redis error if it cannot start."""
        config = self.config
        self._ensure_queues()
        if self._metrics is not None:
            self._metrics.serve(config.settings.metrics_port or 0)
            self._upkeep.on_beat = self._metrics.beat
        self._executor = self._make_executor()
        self._upkeep.on_cancelled = self._interrupt
        self._upkeep.held = self._held
        self._upkeep.flow_slots = self._flow_slots.describe
        self._flow_slots.started = self._upkeep.beat_soon
        try:
            self._upkeep.start()
        except BaseException:
            self._executor.shutdown(kill=True)
            raise
        self._flow_slots.start()
        self._completer.start()
        logger.info(
            "worker %s: %s mode, %d slot(s), %d flow slot(s), queues %s, Redis %s",
            config.name, config.mode, config.capacity, config.flow_slots, ",".join(config.queues),
            redacted(config.url),
        )  # fmt: skip

    def run(self) -> None:
        """Serve until stopped (with ``--burst``: until the queues are empty), then drain."""
        if self._executor is None:
            self.start()
        assert self._executor is not None
        try:
            self._claim_loop()
        finally:
            if self._deadline == float("inf"):  # the claim loop ended on its own (--burst)
                self._deadline = time.monotonic() + self.config.settings.drain_seconds
            try:  # the pool's processes end even if Redis is gone for good
                self._flow_slots.stop(lambda: self._deadline)
                self._drain()
                self._completer.close(timeout=10)
            finally:
                self._executor.shutdown(kill=bool(self._inflight))
                self._upkeep.stop()
            logger.info("worker %s stopped", self.config.name)

    def _make_executor(self) -> Executor:
        config = self.config
        if config.mode == "parallel":
            log = (config.settings.log_level, config.settings.log_format, config.name)
            return ProcessExecutor(config.processes, self._secret, log)
        if config.mode == "dask":
            setting = config.settings.label("dask_address")
            return DaskExecutor(config.dask_address, self._secret, setting)
        return ThreadExecutor(config.concurrency, self._secret)

    def _interrupt(self, flow_run_ids: set[str]) -> None:
        """Interrupt the running task runs of cancelled flow runs, where the mode allows.

        Their outcomes are refused anyway (``cancel.lua`` took their entries back)."""
        with self._slots:
            unstarted = self._ahead.drop(lambda claim: claim.flow_run_id in flow_run_ids)
            claims = [c for c in self._inflight.values() if c.flow_run_id in flow_run_ids]
            claims = [c for c in claims if c.entry_id not in self._interrupted]
            self._interrupted.update(c.entry_id for c in claims)
        self._forget(unstarted)
        if claims and self._executor is not None:
            logger.warning("interrupting %d task run(s) of cancelled flow runs", len(claims))
            self._executor.interrupt(claims)

    # --- claiming -----------------------------------------------------------------------------
    def _free(self) -> int:
        """Slots that no attempt holds and no claim is under way for, plus the room to claim
        ahead (:mod:`floq.worker.ahead`) (hold ``_slots``)."""
        held = len(self._inflight) - len(self._ended) + self._reserved
        return self.config.capacity + self._ahead.room() - held

    def _ready(self) -> list[Claim]:
        """The claims waiting for a slot that can start now (hold ``_slots``); none once the
        worker stops claiming (the drain hands them back)."""
        if not self._claiming():
            return []
        running = len(self._inflight) - len(self._ended) - len(self._ahead)
        return self._ahead.take(self.config.capacity - running)

    def _reserve(self, timeout: float = 0.0) -> int:
        """Reserve the free slots for a claim (waiting up to ``timeout`` s for one): how many."""
        with self._slots:
            if self._free() <= 0 and timeout:
                self._slots.wait(timeout)
            free = max(0, self._free()) if self._claiming() else 0
            self._reserved += free
            return free

    def _claim_loop(self) -> None:
        queues = self.config.queues
        while self._claiming():
            free = self._reserve(timeout=0.5)
            if free <= 0:
                continue
            try:
                self._claim(free, block_ms=500)
            except redis.ResponseError as error:
                if "NOGROUP" not in str(error):
                    raise
                logger.warning("the queues %s are gone from Redis (did it lose its data?): "
                               "creating them again", ",".join(queues))  # fmt: skip
                self._ensure_queues()
                continue
            if self.config.burst and not self._inflight and self._protocol.queues_idle(queues):
                return

    def _claim(self, free: int, block_ms: int | None) -> None:
        """Claim for the ``free`` slots reserved (blocking up to ``block_ms``), and start what
        came; the reservation ends either way."""
        reader = self._reader if block_ms else self._client
        got = 0
        try:  # the slots stay reserved until what came is in flight: none is claimed twice
            claims, malformed = self._protocol.claim(
                reader, self.config.name, self.config.queues, free, block_ms
            )
            got = len(claims) + len(malformed)
            for entry in malformed:
                self._reject(entry)
            if claims and not self._claiming():  # the stop came while the read was blocked
                self._return(claims)
            elif claims:
                ids = {claim.entry_id for claim in claims}
                with self._slots:
                    self._receiving |= ids
                try:
                    self._start(self._protocol.fetch_inputs(claims, self._codes))
                finally:  # not started (Redis failed us): the orphan sweep hands them back
                    with self._slots:
                        self._receiving -= ids
        finally:
            with self._slots:
                self._reserved -= free
                self._ahead.claimed(free, got)
                self._slots.notify_all()
        if claims and block_ms:
            time.sleep(0)  # let the pool threads just handed work start on it

    def _refill(self, free: int) -> None:
        """Parallel mode, on the pool's thread as an attempt ends: claim for its slot at once,
        before its outcome is written. The claim thread would wake a thread switch later and
        queue its read behind the write while the process idles (W4 in benchmarks/)."""
        try:
            self._claim(free, block_ms=None)
        except redis.RedisError as error:  # the claim thread meets it too, and says so
            logger.debug("could not claim from the pool's thread: %s", error)

    def _ensure_queues(self) -> None:
        """Make the queues' streams and groups unless they exist: at start, and again when a
        Redis server lost its data (the runs that were on them are lost with it; their flow
        runs learn so: they end Crashed, the coordinator sees their records vanish)."""
        for name in self.config.queues:
            self._protocol.ensure_queue(name)

    def _return(self, claims: list[Claim]) -> None:
        """Put entries read after the stop back on their queues, unstarted (for other workers)."""
        for queue in {claim.queue for claim in claims}:
            ids = [c.entry_id for c in claims if c.queue == queue]
            count = self._protocol.hand_back_entries(queue, self.config.name, ids)
            logger.warning("handed back %d unstarted task run(s) on queue %s", count, queue)

    def _reject(self, malformed: Malformed) -> None:
        """A malformed entry: its run (if it names one) ends Failed; it goes to the dead letters."""
        claim = malformed.claim()
        if claim is not None:
            with self._slots:
                self._inflight[claim.entry_id] = claim
                self._ended.add(claim.entry_id)  # it takes no slot
            if self._metrics is not None:
                self._metrics.claimed(claim.queue, claim.entry_id)
            self._write(claim, undecodable(claim, malformed.error, self._secret))
            return
        self._protocol.dead_letter(malformed)
        logger.error("dead-lettered malformed entry %s on %s: %s",
                     malformed.entry_id, malformed.queue, malformed.error)  # fmt: skip

    def _held(self) -> set[str]:
        """The entry ids this worker holds: in flight, or received and being started."""
        with self._slots:
            return set(self._inflight) | self._receiving

    def _start(self, claims: list[Claim]) -> None:
        assert self._executor is not None
        with self._slots:
            for claim in claims:
                self._inflight[claim.entry_id] = claim
            self._receiving.difference_update(claim.entry_id for claim in claims)
            self._upkeep.inflight = len(self._inflight)
            self._ahead.add(claims)
            ready = self._ready()
        if self._metrics is not None:
            for claim in claims:
                self._metrics.claimed(claim.queue, claim.entry_id)
        for claim in ready:
            self._executor.submit(claim, self._done)

    def _done(self, claim: Claim, result: Result | BaseException) -> None:
        """The executor's report: the attempt ended, its slot is free; its outcome goes out."""
        with self._slots:  # the outcome is still in flight
            self._ended.add(claim.entry_id)
            self._ahead.ended(claim.entry_id)
            refill = self._reserve() if self._refill_on_done else 0
            ready = self._ready()
            self._slots.notify_all()
        if refill:
            self._refill(refill)
        self._write(claim, result)
        assert self._executor is not None
        for waiting in ready:  # on this thread: it is free now
            self._executor.submit(waiting, self._done)

    def _write(self, claim: Claim, result: Result | BaseException) -> None:
        if isinstance(result, BaseException):
            if self._stopping.is_set():  # lost to the shutdown: it goes back to its queue
                self._forget([claim])
                return
            name = self._protocol.run_names([claim]).get(claim.task_run_id)
            result = crashed(claim, result, self._secret, name)
        if self._closed:  # handed back already: the outcome would be refused
            self._forget([claim])
        elif self._write_inline and len(self._inflight) == 1:
            self._completer.write([(claim, result)])  # alone: no batch to wait for
        else:
            self._completer.put(claim, result)

    def _forget(self, claims: list[Claim]) -> None:
        """These runs are no longer in flight here (done, or left to be handed back)."""
        with self._slots:
            held = [c for c in claims if self._inflight.pop(c.entry_id, None) is not None]
            self._ended.difference_update(c.entry_id for c in claims)
            self._interrupted.difference_update(c.entry_id for c in claims)
            self._upkeep.inflight = len(self._inflight)
            self._slots.notify_all()
        if self._metrics is not None:
            for claim in held:
                self._metrics.released(claim.queue)

    # --- draining -----------------------------------------------------------------------------
    def _drain(self) -> None:
        """Hand back the claims not started; wait for the runs in flight until the deadline;
        hand back the rest."""
        with self._slots:
            unstarted = self._ahead.drop(lambda claim: True)
        self._forget(unstarted)
        if unstarted:
            with contextlib.suppress(redis.RedisError):  # if not: with the rest, below
                self._return(unstarted)
        with self._slots:
            while self._inflight and time.monotonic() < self._deadline:
                self._slots.wait(min(0.1, max(0.0, self._deadline - time.monotonic())))
            left = len(self._inflight)
            self._closed = True
        if left:
            logger.warning("drain: handing back %s", _count(left, "unfinished task run"))
        try:  # also any run lost to the shutdown, and any claimed but not started
            for name in self.config.queues:
                self._upkeep.hand_back(name, self.config.name)
        except redis.RedisError as error:  # once this worker's heartbeat lapses, others do
            logger.warning("drain: could not hand back this worker's task runs: %s", error)


def _metrics(config: WorkerConfig, client: Any, keys: Keys) -> WorkerMetrics | None:
    """The worker's metrics, when ``--metrics-port`` / ``FLOQ_METRICS_PORT`` asks for them."""
    if config.settings.metrics_port is None:
        return None
    return WorkerMetrics(client, keys, config.queues)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
