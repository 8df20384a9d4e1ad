"""Where a worker runs its claimed attempts: threads, processes or a Dask cluster.

Every executor takes ``submit(claim, done)`` and calls ``done(claim, result)`` exactly once,
from any thread; a payload that cannot be decoded gives a dead-letter result. When the
executor itself lost the attempt (a pool process died, say), ``done`` gets the error instead
of a result: the daemon hands the run back if it is shutting down, else records it Crashed.
``interrupt(claims)`` stops running attempts where the mode allows: async tasks (cancelled on
the event loop), parallel mode (the child gets SIGUSR1 and raises in the task), Dask (attempts
not started yet). A sync task on a thread cannot be stopped; it runs to its end.

Signals: parallel mode's pool processes and a dask-mode LocalCluster's processes are started
with SIGINT blocked and ignore it (Ctrl-C is the daemon's: it drains); they end with the
worker however it ends (:mod:`floq.worker.children`). ``shutdown(kill=True)`` (the daemon
handed unfinished runs back) kills the pool processes instead of waiting for their tasks.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from floq import logs
from floq.engine.shells import TimeoutMode
from floq.engine.task_runs import run_attempt_async
from floq.errors import ConfigurationError, RunnerError, SerializationError
from floq.runners.event_loop import EventLoopThread
from floq.runners.pool import ThreadPool
from floq.runners.process_pool import ProcessPool, outcome
from floq.states import State
from floq.worker.attempt import (
    Claim,
    Result,
    attempt_sync,
    execute,
    prepare,
    result_of,
    undecodable,
)
from floq.worker.children import die_with_parent, ignore_sigint, sigint_blocked

logger = logging.getLogger("floq.worker")

Done = Callable[[Claim, Result | BaseException], None]


class Executor(Protocol):
    def submit(self, claim: Claim, done: Done) -> None: ...

    def interrupt(self, claims: list[Claim]) -> None: ...

    def shutdown(self, kill: bool = False) -> None: ...


def _settle(
    claim: Claim, done: Done, secret: bytes | None, get: Callable[[], Result | None]
) -> None:
    """Call ``done`` with what ``get()`` gives (None: someone else will), or with its error."""
    result: Result | BaseException | None
    try:
        result = get()
    except SerializationError as error:
        result = undecodable(claim, error, secret)
    except BaseException as error:  # whatever happened, the daemon hears of it
        result = error
    if result is not None:
        done(claim, result)


def _args(claim: Claim, secret: bytes | None, mode: TimeoutMode) -> tuple[Any, ...]:
    return (claim.payload, claim.code, claim.code_raw, claim.upstream, claim.previous, secret, mode)


class ThreadExecutor:
    """Concurrent mode: sync attempts on up to ``concurrency`` threads, async ones on one loop."""

    def __init__(self, concurrency: int, secret: bytes | None) -> None:
        self._pool = ThreadPool(concurrency, "floq-worker")
        self._loop = EventLoopThread("floq-worker-async")
        self._secret = secret
        self._running: dict[str, cf.Future[Any]] = {}  # async attempts, by entry id

    def submit(self, claim: Claim, done: Done) -> None:
        self._pool.submit(_settle, claim, done, self._secret, partial(self._run, claim, done))

    def _run(self, claim: Claim, done: Done) -> Result | None:
        secret = self._secret
        call, states = prepare(*_args(claim, secret, TimeoutMode.THREAD)[:-1])
        if not call.task.is_async:
            return result_of(call, *attempt_sync(call, states, TimeoutMode.THREAD), secret)
        running = self._loop.submit(run_attempt_async(call, states))
        self._running[claim.entry_id] = running

        def finished(future: cf.Future[tuple[State, float | None]]) -> None:
            self._running.pop(claim.entry_id, None)
            _settle(claim, done, secret, lambda: result_of(call, *future.result(), secret))

        running.add_done_callback(finished)
        return None  # settled by ``finished``, from the loop's thread

    def interrupt(self, claims: list[Claim]) -> None:
        for claim in claims:
            running = self._running.get(claim.entry_id)
            if running is not None:
                running.cancel()

    def shutdown(self, kill: bool = False) -> None:
        """Threads cannot be killed: those still running end with the process."""
        self._pool.shutdown()
        self._loop.stop()


class ProcessExecutor:
    """Parallel mode: attempts in ``processes`` spawned processes (a
    :class:`~floq.runners.process_pool.ProcessPool`: one that dies loses only its own attempt,
    and is replaced); the payload stays bytes."""

    def __init__(
        self, processes: int, secret: bytes | None, log: tuple[str, str, str] = ("INFO", "text", "")
    ) -> None:
        """``log``: the daemon's log level, format and worker name, for the children's logs."""
        context = multiprocessing.get_context("spawn")
        self._cancelled: Any = context.Array("c", _CANCELLED_BYTES)  # flow run ids, comma-separated
        # Every process starts now, not on the first claims (spawning takes ~0.5 s each).
        self._pool = ProcessPool(processes, _child_start, (self._cancelled, os.getpid(), log))
        self._secret = secret

    def submit(self, claim: Claim, done: Done) -> None:
        args = _args(claim, self._secret, TimeoutMode.SIGNAL)

        def reply(ok: bool, value: Any) -> None:
            _settle(claim, done, self._secret, lambda: outcome(ok, value))

        self._pool.submit(_execute_in_child, (claim.flow_run_id, *args), reply)

    def interrupt(self, claims: list[Claim]) -> None:
        ids = {claim.flow_run_id for claim in claims}
        self._cancelled.value = ",".join(sorted(ids)).encode()[: _CANCELLED_BYTES - 1]
        self._pool.signal(signal.SIGUSR1)

    def shutdown(self, kill: bool = False) -> None:
        """``kill``: at once, else once each process ends its attempt (the daemon drained)."""
        self._pool.shutdown(kill=kill)


class DaskExecutor:
    """Dask mode: each attempt is submitted to the cluster at ``address`` (or a local one)."""

    def __init__(self, address: str | None, secret: bytes | None, setting: str) -> None:
        """``setting``: what gave the address (``--dask-address``), for the error if it is
        unreachable."""
        from floq.runners.dask import import_distributed, open_client

        import_distributed()  # a missing extra is the one thing said
        if not address:
            logger.info("dask mode: no --dask-address given; starting a LocalCluster")
        try:
            with sigint_blocked():  # its processes, and the threads that start them, inherit it
                self._client, self._cluster = open_client(address)
        except RunnerError as error:
            raise ConfigurationError(f"{setting}: {error}") from None
        if self._cluster is not None:
            logger.info(
                "dask mode: LocalCluster of %d worker process(es), scheduler %s, dashboard %s",
                len(self._cluster.workers), self._cluster.scheduler_address,
                self._cluster.dashboard_link,
            )  # fmt: skip
        self._secret = secret
        self._futures: dict[str, Any] = {}

    def submit(self, claim: Claim, done: Done) -> None:
        args = _args(claim, self._secret, TimeoutMode.THREAD)
        key = f"floq-{claim.task_run_id}-{claim.entry_id}"
        future = self._client.submit(execute, *args, key=key, pure=False)
        self._futures[claim.entry_id] = future

        def finished(f: Any) -> None:
            self._futures.pop(claim.entry_id, None)
            _settle(claim, done, self._secret, f.result)

        future.add_done_callback(finished)

    def interrupt(self, claims: list[Claim]) -> None:
        for claim in claims:
            future = self._futures.get(claim.entry_id)
            if future is not None:
                future.cancel()

    def shutdown(self, kill: bool = False) -> None:
        if kill:
            self._client.cancel(list(self._futures.values()))
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


# --- inside a parallel-mode child ------------------------------------------------------------
_CANCELLED_BYTES = 4096


class Interrupted(BaseException):
    """Raised inside a task whose flow run was cancelled (parallel mode)."""


class _Child:
    cancelled: Any = None
    flow_run_id: str | None = None


def _child_start(cancelled: Any, parent: int, log: tuple[str, str, str]) -> None:
    ignore_sigint()  # blocked until now: a Ctrl-C while booting could not raise here either
    die_with_parent(parent)
    level, log_format, worker = log
    logs.set_worker_name(worker)
    logs.install_default_handler(level, log_format)  # as the daemon logs
    _Child.cancelled = cancelled
    signal.signal(signal.SIGUSR1, _on_interrupt)


def _on_interrupt(signum: int, frame: Any) -> None:
    current = _Child.flow_run_id
    if current is not None and current in _Child.cancelled.value.decode().split(","):
        raise Interrupted(f"flow run {current} was cancelled")


def _execute_in_child(flow_run_id: str, *args: Any) -> Result:
    _Child.flow_run_id = flow_run_id
    try:
        return execute(*args)
    finally:
        _Child.flow_run_id = None
