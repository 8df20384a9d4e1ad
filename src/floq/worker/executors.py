"""Where a worker runs its claimed attempts: threads, processes or a Dask cluster.

Every executor takes ``submit(claim, done)`` and calls ``done(claim, result)`` exactly once,
from any thread; a payload that cannot be decoded gives a dead-letter result, never an error.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from floq.engine.shells import TimeoutMode
from floq.errors import SerializationError
from floq.runners.pool import ThreadPool
from floq.worker.attempt import Claim, Result, crashed, execute, undecodable

Done = Callable[[Claim, Result], None]


class Executor(Protocol):
    def submit(self, claim: Claim, done: Done) -> None: ...

    def shutdown(self) -> None: ...


def _settle(claim: Claim, done: Done, secret: bytes | None, get: Callable[[], Result]) -> None:
    try:
        result = get()
    except SerializationError as error:
        result = undecodable(claim, error, secret)
    except BaseException as error:
        result = crashed(claim, error, secret)
    done(claim, result)


def _args(claim: Claim, secret: bytes | None, mode: TimeoutMode) -> tuple[Any, ...]:
    return (claim.payload, claim.code, claim.code_raw, claim.upstream, claim.previous, secret, mode)


class ThreadExecutor:
    """Concurrent mode: attempts on up to ``concurrency`` threads (async tasks on their loop)."""

    def __init__(self, concurrency: int, secret: bytes | None) -> None:
        self._pool = ThreadPool(concurrency, "floq-worker")
        self._secret = secret

    def submit(self, claim: Claim, done: Done) -> None:
        args = _args(claim, self._secret, TimeoutMode.THREAD)
        self._pool.submit(_settle, claim, done, self._secret, partial(execute, *args))

    def shutdown(self) -> None:
        self._pool.shutdown()


class ProcessExecutor:
    """Parallel mode: attempts in ``processes`` spawned processes; the payload stays bytes."""

    def __init__(self, processes: int, secret: bytes | None) -> None:
        context = multiprocessing.get_context("spawn")
        self._pool = cf.ProcessPoolExecutor(processes, mp_context=context)
        self._secret = secret

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
