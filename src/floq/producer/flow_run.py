"""Enqueue whole flow runs from any process, and the :class:`FlowRun` handle to come back.

``enqueue`` writes the flow run's record (Pending, or Scheduled for ``at``/``delay``) and puts an
RQ job on RQ's queue ``<namespace>:<queue>``: RQ's ``Retry`` gives flow-level retries (the flow's
own ``retries=`` still retries inside each run), RQ's scheduler runs delayed ones (``at``/``delay``
to the whole second: RQ's scheduler keeps due times in whole seconds). The job has
no RQ timeout (``job_timeout=-1``): a flow's ``timeout_seconds`` is floq's to enforce.
"""

from __future__ import annotations

import functools
import logging
import time
from datetime import datetime, timedelta
from typing import Any

import redis
from rq import Queue, Retry
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import CanceledJobRegistry

from floq.errors import FloqError
from floq.producer.jobs import TRAMPOLINE, describe, encode_call
from floq.producer.status import reconcile
from floq.runs import new_run_id
from floq.settings import get_settings
from floq.states import Cancelled, Pending, Scheduled, State, StateType
from floq.store.connection import check, connect
from floq.store.embedded import redis_url_or_embedded
from floq.store.flow_runs import FlowRunStore, TaskRunRow
from floq.store.keys import Keys, rq_queue_name
from floq.store.rq_jobs import JobSerializer
from floq.store.serving import no_worker_hint

logger = logging.getLogger("floq.producer")

_POLL = 1.0  # longest block on the event stream before the RQ job's status is read again
HINT_AFTER = 2.0  # a wait on a Pending run checks for a live worker after this long (s)


def open_store(url: str | None = None, namespace: str | None = None) -> FlowRunStore:
    """The flow-run records on ``url`` (default: settings), in ``namespace``; checked reachable.

    One store (one connection pool) per server, namespace and TTL in a process: an app that
    enqueues and fetches per request does not build a client per request."""
    settings = get_settings()
    namespace = namespace or settings.namespace
    return _store(_address(url), namespace, settings.result_ttl, settings.flow_run_redis_url)


def _address(url: str | None) -> str:
    return url or redis_url_or_embedded(get_settings())


@functools.lru_cache(maxsize=32)
def _store(address: str, namespace: str, ttl: int, rq_address: str | None) -> FlowRunStore:
    client = connect(address)
    check(client, address)
    rq_client = None
    if rq_address is not None and rq_address != address:
        rq_client = connect(rq_address)
        check(rq_client, rq_address)
    return FlowRunStore(client, Keys(namespace), ttl, rq_client)


def enqueue(
    flow: Any,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    queue: str = "default",
    retries: int = 0,
    retry_delay_seconds: int | list[int] = 0,
    at: datetime | None = None,
    delay: float | timedelta | None = None,
    url: str | None = None,
    namespace: str | None = None,
) -> FlowRun:
    """Put a run of ``flow(*args, **kwargs)`` on ``queue`` for a flow-worker; its handle."""
    kwargs = dict(kwargs or {})
    parameters = flow.bind(args, kwargs)  # wrong arguments fail here, naming the flow
    if retries < 0:
        raise FloqError(f"enqueue {flow.name!r}: retries must be >= 0, got {retries}")
    if at is not None and delay is not None:
        raise FloqError(f"enqueue {flow.name!r}: give at= or delay=, not both")
    payload = encode_call(flow, tuple(args), kwargs, queue)
    store = open_store(url, namespace)
    rq_client = store.rq  # before any write: on a cluster, fails if no flow-run server is set
    run_id = new_run_id()
    description = describe(flow.name, parameters)
    first = Scheduled() if at is not None or delay is not None else Pending()
    store.create(run_id, first, flow=flow.name, queue=queue, description=description)
    rq_queue = Queue(
        rq_queue_name(store.keys.ns, queue), connection=rq_client, serializer=JobSerializer
    )
    options: dict[str, Any] = {
        "args": (payload,), "job_id": run_id, "description": description, "job_timeout": -1,
        "result_ttl": store.ttl, "failure_ttl": store.ttl, "meta": {"floq_flow": flow.name},
        "retry": Retry(max=retries, interval=retry_delay_seconds) if retries else None,
    }  # fmt: skip
    try:
        if at is not None:
            rq_queue.enqueue_at(at, TRAMPOLINE, **options)
        elif delay is not None:
            seconds = delay if isinstance(delay, timedelta) else timedelta(seconds=delay)
            rq_queue.enqueue_in(seconds, TRAMPOLINE, **options)
        else:
            rq_queue.enqueue(TRAMPOLINE, **options)
    except redis.RedisError as error:
        store.transition(run_id, Cancelled(f"could not be enqueued: {error}"))
        raise FloqError(f"cannot enqueue flow {flow.name!r}: {error}", run_id=run_id) from None
    return FlowRun(run_id, store, _address(url))


class FlowRun:
    """A handle on an enqueued flow run: ``.id``, ``.state``, ``.wait()``, ``.result()``,
    ``.cancel()``. Get one in any process with ``FlowRun.fetch(id)``."""

    def __init__(self, run_id: str, store: FlowRunStore, url: str = "") -> None:
        self.id = run_id
        self._store = store
        self.url = url  # the server's URL, for messages

    @classmethod
    def fetch(cls, run_id: str, url: str | None = None, namespace: str | None = None) -> FlowRun:
        """The handle of flow run ``run_id``; FloqError if the server knows no such run."""
        run = cls(run_id, open_store(url, namespace), _address(url))
        if run._state() is None:
            raise FloqError(f"no flow run {run_id!r} (never enqueued, or expired)", run_id=run_id)
        return run

    def __repr__(self) -> str:
        return f"FlowRun({self.id!r})"

    @property
    def store(self) -> FlowRunStore:
        """The flow-run records this handle reads (its server and namespace)."""
        return self._store

    @property
    def state(self) -> State:
        state = self._state()
        if state is None:
            raise FloqError(f"flow run {self.id!r} is gone (expired?)", run_id=self.id)
        return state

    def record(self) -> dict[str, bytes]:
        """The raw record: flow, queue, description, created/started/ended, counts."""
        return self._store.record(self.id)

    def task_runs(self) -> list[TaskRunRow]:
        """Every task run of this flow run, in submission order (all attempts of the flow)."""
        return self._store.task_runs(self.id)

    def _job(self) -> Job | None:
        try:
            return Job.fetch(self.id, connection=self._store.rq, serializer=JobSerializer)
        except NoSuchJobError:
            return None

    def _job_status(self, job: Job | None = None) -> str | None:
        job = job or self._job()
        status = None if job is None else job.get_status(refresh=False)
        return None if status is None else str(getattr(status, "value", status))

    def _state(self) -> State | None:
        # RQ's status first: the worker writes the final record before RQ marks the job
        # finished or failed, so a record read after such a status holds the final state (read
        # the other way round, a run ending in between looked finished with no result).
        status = self._job_status()
        return reconcile(self._recorded(), status, self.id)

    def _recorded(self) -> State | None:
        return self._store.state(self.id, get_settings().secret)

    def wait(self, timeout: float | None = None, *, check: WorkerCheck | None = None) -> State:
        """Block until the run ends (or ``timeout`` s pass); its state then.

        While the run stays Pending, a WARNING on the ``floq.producer`` logger says so (once
        per wait, or per ``check`` shared by several waits) if no live worker serves its
        queue: an app and its workers on different servers or namespaces wait forever."""
        check = check or WorkerCheck(self)
        deadline = None if timeout is None else time.monotonic() + timeout
        last = "0-0"
        while True:
            state = self.state
            if state.is_final():
                return state
            left = _POLL if deadline is None else min(_POLL, deadline - time.monotonic())
            check(state, at_end=left <= 0)
            if left <= 0:
                return state
            last = self._store.next_event(self.id, last, left)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> Any:
        """The flow's value once the run ends; its exception if it failed (or returned with
        ``raise_on_failure=False``); TimeoutError if it has not ended within ``timeout`` s
        (saying so if no live worker serves its queue)."""
        state = self.wait(timeout, check=WorkerCheck(self, at_end=False))
        if not state.is_final():
            raise TimeoutError(self.still(state, timeout))
        return state.result(raise_on_failure)

    def still(self, state: State, timeout: float | None = None) -> str:
        """'flow run X is still Pending after N s', and why if no live worker serves it."""
        after = "" if timeout is None else f" after {timeout} s"
        message = f"flow run {self.id} is still {state.name}{after}"
        hint = self.no_worker_hint() if state.type is StateType.PENDING else ""
        return f"{message}: {hint}" if hint else message

    def no_worker_hint(self) -> str:
        """'' if a live worker with a flow slot serves this run's queue; else why none runs it."""
        queue = self.record().get("queue", b"default").decode()
        url = self.url or "this server"
        return no_worker_hint(self._store.client, self._store.keys, queue, url, flow_runs=True)

    def cancel(self) -> State:
        """Cancel the run: its queued task runs never run, a running flow is stopped.

        Nothing else is touched. Returns the state it ends in (Cancelled, or the final state
        it had already reached)."""
        from rq.command import send_stop_job_command

        store, run_id = self._store, self.id
        if not store.transition(run_id, Cancelled(f"flow run {run_id} was cancelled")):
            return self.state  # it had ended already
        store.cancel_task_runs(run_id)
        job = self._job()
        status = self._job_status(job)
        if job is not None and status == "started":
            send_stop_job_command(store.rq, run_id, serializer=JobSerializer)
        elif job is not None and status not in ("finished", "failed", "stopped", "canceled"):
            job.cancel()
        return self.state

    def retry(self) -> State:
        """Run a Failed, Crashed or Cancelled run again: its RQ job goes back on its queue, a
        new attempt that reuses the task runs earlier attempts completed. Its state then
        (Pending); FloqError if the run cannot be retried."""
        state = self.state
        if state.type not in (StateType.FAILED, StateType.CRASHED, StateType.CANCELLED):
            raise FloqError(
                f"flow run {self.id} is {state.name}: only a Failed, Crashed or Cancelled "
                "flow run can be retried", run_id=self.id,
            )  # fmt: skip
        job = self._job()
        if job is None:
            raise FloqError(f"flow run {self.id}: its RQ job is gone (expired)", run_id=self.id)
        self._store.reopen(self.id, Pending(f"retried after it ended {state.name}"))
        for registry in (job.failed_job_registry, CanceledJobRegistry(
            job.origin, connection=self._store.rq, serializer=JobSerializer
        )):  # fmt: skip
            try:
                registry.requeue(job)
                return self.state
            except InvalidJobOperation:
                continue
        status = self._job_status(job)
        raise FloqError(f"flow run {self.id}: RQ cannot requeue its job ({status})", run_id=self.id)


class WorkerCheck:
    """Warns once that a Pending flow run has no live worker to run it: checked once it has
    been waited on for ``after`` seconds, then every poll till found; also when a wait times
    out (``at_end``), unless the caller reports the hint itself (a TimeoutError carries it)."""

    def __init__(self, run: FlowRun, after: float = HINT_AFTER, *, at_end: bool = True) -> None:
        self._run, self._due, self._at_end = run, time.monotonic() + after, at_end
        self.warned = False

    def __call__(self, state: State, *, at_end: bool = False) -> None:
        if self.warned or state.type is not StateType.PENDING:
            return
        if time.monotonic() < self._due and not (at_end and self._at_end):
            return
        self._due = time.monotonic() + _POLL
        hint = self._run.no_worker_hint()
        if hint:
            logger.warning("flow run %s is Pending: %s", self._run.id, hint)
            self.warned = True
