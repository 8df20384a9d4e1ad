"""RedisTaskRunner: the flow's task runs go through Redis to ``flow-worker`` daemons.

The coordinator side of the protocol in :mod:`floq.store`. Submissions are encoded in the
caller's thread (an unpicklable argument fails there), then sent by one flusher thread in
pipelines: while one pipeline is in flight the next batch gathers, so a lone submit goes out
at once and a burst goes out in few round trips. Upstream futures travel as ids; Redis holds a
downstream run until its last upstream completes, so a DAG never round-trips through here.
One collector thread reads the flow run's result stream with blocking XREADs; while task runs
wait, it also looks (once a second) for a live worker serving the queue, and warns once if
none has for ``NO_WORKER_GRACE`` seconds (an app and its workers on different servers, say).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import queue as queues
import threading
import time
from typing import Any

import redis

from floq.errors import FloqError, RunnerError, SerializationError
from floq.futures import TaskFuture
from floq.runners.base import TaskRunner, crash
from floq.runners.transport import decode_outcome, explained
from floq.runs import TaskCall, new_run_id
from floq.settings import get_settings
from floq.states import Failed, StateType, transition
from floq.store.connection import check, connect, redacted
from floq.store.embedded import redis_url_or_embedded
from floq.store.keys import Keys
from floq.store.protocol import Submission, TaskRunProtocol
from floq.store.records import CallRecord, encode_code
from floq.store.serving import no_worker_hint

logger = logging.getLogger("floq.runners")

_BATCH = 500
NO_WORKER_GRACE = 3.0  # seconds without a live worker on the queue before the warning
VANISHED_AFTER = 5.0  # seconds without news before checking that waited-for runs still exist


class RedisTaskRunner(TaskRunner):
    """Sends task runs to ``queue`` on the Redis at ``url`` for ``flow-worker`` daemons to run.

    ``url`` defaults to ``FLOQ_REDIS_URL``, else the embedded server (started if need be).
    """

    def __init__(
        self, url: str | None = None, queue: str = "default", namespace: str | None = None
    ):
        super().__init__(url=url, queue=queue, namespace=namespace)
        self.url, self.queue, self.namespace = url, queue, namespace
        self._futures_by_id: dict[str, TaskFuture[Any]] = {}
        self._outbox: queues.SimpleQueue[Submission | None] = queues.SimpleQueue()
        self._codes: dict[Any, str] = {}  # task -> content address, once sent
        self._threads: list[threading.Thread] = []
        self._flow_run_id: str | None = None

    def start(self) -> None:
        settings = get_settings()
        self._address = self.url or redis_url_or_embedded(settings)
        self._keys = Keys(self.namespace or settings.namespace)
        self._secret, self._ttl = settings.secret, settings.result_ttl
        self._client: Any = _shared_client(self._address)
        check(self._client, self._address)  # one round trip: a server gone since fails here
        self._protocol = TaskRunProtocol(self._client, self._keys, self._ttl)
        queue = (self._address, self._keys.ns, self.queue)
        if queue not in _queues_made:
            self._protocol.ensure_queue(self.queue)
            _queues_made.add(queue)
        self._futures_by_id.clear()
        self._sent: set[str] = set()  # task run ids whose submission reached Redis
        self._flow_run_id = None
        self._stop_token = new_run_id()  # an earlier attempt's stop marker is not ours
        self._unserved_since: float | None = None  # when no live worker was first seen
        self._next_look, self._warned = 0.0, False
        self._spawn(self._flush, "floq-redis-submit")

    def shutdown(self) -> None:
        self._outbox.put(None)
        if self._flow_run_id is not None:
            with contextlib.suppress(redis.RedisError):
                self._protocol.stop_results(self._flow_run_id, self._stop_token)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _launch(self, call: TaskCall, future: TaskFuture[Any]) -> None:
        foreign = [run_id for run_id in call.upstream if run_id not in self._futures_by_id]
        if foreign:
            raise RunnerError(
                f"task {call.task.name!r}: upstream run(s) {', '.join(foreign)} were not "
                "submitted to this RedisTaskRunner; only its own futures can be passed",
                run_id=call.run.id,
            )
        code, new_code = self._code_of(call.task)
        try:
            payload = CallRecord.of(call, code).encode(self._secret)
        except SerializationError as error:
            raise explained(call, error) from None
        if self._flow_run_id is None:
            self._flow_run_id = call.run.flow_run_id or new_run_id()
            self._spawn(self._collect, "floq-redis-collect")
        self._futures_by_id[call.run.id] = future
        submission = Submission(call.run.id, self._flow_run_id, payload, tuple(call.upstream),
                                code, call.run.name, new_code)  # fmt: skip
        self._outbox.put(submission)

    def _code_of(self, task: Any) -> tuple[str, bytes | None]:
        """The task's content address, and its bytes the first time (to be stored)."""
        code = self._codes.get(task)
        if code is not None:
            return code, None
        code, raw = encode_code(task, self._secret)
        self._codes[task] = code
        return code, raw

    # --- the flusher: submissions out in pipelines ------------------------------------------
    def _flush(self) -> None:
        stop = False
        while not stop:
            batch = [self._outbox.get()]
            while len(batch) < _BATCH and not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            stop = None in batch
            items = [item for item in batch if item is not None]
            if items:
                self._send(items)

    def _send(self, items: list[Submission]) -> None:
        try:
            self._protocol.submit(self.queue, items)
            self._sent.update(item.task_run_id for item in items)
        except Exception as error:  # never die silently: these runs could never end
            message = f"cannot submit to Redis at {redacted(self._address)}: {error}"
            logger.error("%s", message)
            _crash([self._futures_by_id[item.task_run_id] for item in items], message)

    # --- the collector: outcomes in from the flow run's result stream -----------------------
    def _collect(self) -> None:
        """Read outcomes until the stop marker. Whatever it cannot handle ends every unfinished
        run Crashed, with the reason, and wakes its waiters: a silent death would hang them."""
        try:
            self._collect_until_stopped()
        except Exception as error:
            where = f"Redis at {redacted(self._address)}"
            message = f"lost the outcomes of flow run {self._flow_run_id} on {where}: {error}"
            logger.error("%s", message)
            self._fail_all(message)

    def _collect_until_stopped(self) -> None:
        assert self._flow_run_id is not None
        last: bytes | str = "0"
        self._last_news = time.monotonic()
        while True:
            entries = self._protocol.read_results(self._client, self._flow_run_id, last, 1000)
            for entry in entries:
                last = entry.entry_id
                if entry.task_run_id is None:  # a stop marker: ours, or an earlier attempt's
                    if entry.outcome == self._stop_token.encode():
                        return
                    continue
                self._receive(entry.task_run_id, entry.outcome)
            if entries:
                self._last_news = time.monotonic()
            self._look_for_workers()
            self._look_for_vanished()
            time.sleep(0)  # let the threads just woken run before we read again

    def _look_for_vanished(self) -> None:
        """After a quiet spell, end the runs whose records vanished from Redis (a restart that
        lost its data): no outcome can come for them."""
        if time.monotonic() - self._last_news < VANISHED_AFTER:
            return
        self._last_news = time.monotonic()
        assert self._flow_run_id is not None
        sent = self._sent  # a run still in the outbox has no record yet
        waiting = [i for i, f in list(self._futures_by_id.items()) if not f.done() and i in sent]
        gone = self._protocol.missing(self._flow_run_id, waiting)
        if gone:
            message = (
                f"its record vanished from Redis at {redacted(self._address)} (a restart "
                "that lost the data?): its outcome cannot come"
            )
            logger.error("%d task run(s) lost: %s", len(gone), message)
            _crash([self._futures_by_id[i] for i in gone], message)

    def _look_for_workers(self) -> None:
        """Warn once if task runs wait and no live worker has served the queue for a while.
        Looked into at most once a second, and only after a second without an outcome."""
        now = time.monotonic()
        if now < self._next_look or now - self._last_news < 1.0:
            return
        self._next_look = now + 1.0
        waiting = sum(not future.done() for future in list(self._futures_by_id.values()))
        try:
            hint = waiting and no_worker_hint(
                self._client, self._keys, self.queue, self._address, flow_runs=False
            )
        except redis.RedisError:
            return  # the blocking read reports a lost server
        if not hint:
            self._unserved_since, self._warned = None, False
            return
        self._unserved_since = self._unserved_since or self._last_news  # quiet since then
        if not self._warned and now - self._unserved_since >= NO_WORKER_GRACE:
            logger.warning("%d task run(s) wait: %s", waiting, hint)
            self._warned = True

    def _receive(self, run_id: str, raw: bytes) -> None:
        future = self._futures_by_id.get(run_id)
        if future is None:
            return
        try:
            state, history, run_count = decode_outcome(raw, self._secret)
        except SerializationError as error:  # forged, or another FLOQ_SECRET: this run fails
            message = f"task run {future.task_run.name!r}: its outcome was refused: {error.message}"
            future.finish(transition(future.task_run, Failed(error, message)))
            return
        future.task_run.adopt(state, history, run_count)
        if state.type is not StateType.SCHEDULED:  # AwaitingRetry is news, not the end
            future.finish(state)

    def _fail_all(self, message: str) -> None:
        _crash([f for f in self._futures_by_id.values() if not f.done()], message)


@functools.lru_cache(maxsize=32)
def _shared_client(address: str) -> Any:
    """One client per Redis address for the flow runs of this process (run one after another
    or at once: its connection pool is thread-safe), as the producer keeps one store.

    Each start still checks the server (a wrong URL, or a server gone since, fails there);
    the protocol loads its scripts once per client, and each queue's group is made once
    (``_queues_made``). So a later start is one round trip, and a server that restarted
    meanwhile is found again: redis-py reconnects, the scripts reload on NOSCRIPT, workers
    make a lost queue group again."""
    return connect(address)


_queues_made: set[tuple[str, str, str]] = set()  # (address, namespace, queue)


def _crash(futures: list[TaskFuture[Any]], message: str) -> None:
    """End these runs Crashed: the coordinator lost its way to Redis."""
    for future in futures:
        run = future.task_run
        future.finish(crash(run, FloqError(message, run_id=run.id), message))
