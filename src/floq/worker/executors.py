"""Where a worker runs its claimed attempts: threads, processes or a Dask cluster.

Every executor takes ``submit(claim, done)`` and calls ``done(claim, result)`` exactly once,
from any thread; a payload that cannot be decoded gives a dead-letter result, never an error.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from floq.engine.shells import TimeoutMode
from floq.engine.task_runs import run_attempt_async
from floq.errors import SerializationError
from floq.runners.event_loop import EventLoopThread
from floq.runners.pool import ThreadPool
from floq.states import State
from floq.worker.attempt import (
    Claim,
    Result,
    attempt_sync,
    crashed,
    execute,
    prepare,
    result_of,
    undecodable,
)

Done = Callable[[Claim, Result], None]


class Executor(Protocol):
    def submit(self, claim: Claim, done: Done) -> None: ...

    def shutdown(self) -> None: ...


def _settle(
    claim: Claim, done: Done, secret: bytes | None, get: Callable[[], Result | None]
) -> None:
    """Call ``done`` with what ``get()`` gives (None: someone else will), or with its error."""
    try:
        result = get()
    except SerializationError as error:
        result = undecodable(claim, error, secret)
    except BaseException as error:  # whatever happened, the run gets an outcome
        result = crashed(claim, error, secret)
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

    def submit(self, claim: Claim, done: Done) -> None:
        self._pool.submit(_settle, claim, done, self._secret, partial(self._run, claim, done))

    def _run(self, claim: Claim, done: Done) -> Result | None:
        secret = self._secret
        call, states = prepare(*_args(claim, secret, TimeoutMode.THREAD)[:-1])
        if not call.task.is_async:
            return result_of(call, *attempt_sync(call, states, TimeoutMode.THREAD), secret)
        running = self._loop.submit(run_attempt_async(call, states))

        def finished(future: cf.Future[tuple[State, float | None]]) -> None:
            _settle(claim, done, secret, lambda: result_of(call, *future.result(), secret))

        running.add_done_callback(finished)
        return None  # settled by ``finished``, from the loop's thread

    def shutdown(self) -> None:
        self._pool.shutdown()
        self._loop.stop()


class ProcessExecutor:
    """Parallel mode: attempts in ``processes`` spawned processes; the payload stays bytes."""

    def __init__(self, processes: int, secret: bytes | None) -> None:
        context = multiprocessing.get_context("spawn")
        self._pool = cf.ProcessPoolExecutor(processes, mp_context=context)
        self._secret = secret
        # Start every process now, not on the first claims (spawning takes ~0.5 s each).
        cf.wait([self._pool.submit(os.getpid) for _ in range(processes)], timeout=60)

    def submit(self, claim: Claim, done: Done) -> None:
        future = self._pool.submit(execute, *_args(claim, self._secret, TimeoutMode.SIGNAL))
        future.add_done_callback(lambda f: _settle(claim, done, self._secret, f.result))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class DaskExecutor:
    """Dask mode: each attempt is submitted to the cluster at ``address`` (or a local one)."""

    def __init__(self, address: str | None, secret: bytes | None) -> None:
        from floq.runners.dask import _import_distributed

        distributed = _import_distributed()
        self._cluster = None if address else distributed.LocalCluster()
        self._client = distributed.Client(address or self._cluster)
        self._secret = secret

    def submit(self, claim: Claim, done: Done) -> None:
        args = _args(claim, self._secret, TimeoutMode.THREAD)
        key = f"floq-{claim.task_run_id}-{claim.entry_id}"
        future = self._client.submit(execute, *args, key=key, pure=False)
        future.add_done_callback(lambda f: _settle(claim, done, self._secret, f.result))

    def shutdown(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
