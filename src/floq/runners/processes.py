"""ProcessPoolTaskRunner: task runs in a pool of spawned Python processes."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import threading
import time
from functools import partial
from typing import Any

from floq import serialization
from floq.engine.shells import TimeoutMode
from floq.futures import TaskFuture
from floq.runners.base import TaskRunner, when_ready
from floq.runners.main_guard import require_main_guard
from floq.runners.transport import encode_call, finish_from, run_encoded
from floq.runs import TaskCall
from floq.states import State


class ProcessPoolTaskRunner(TaskRunner):
    """Runs each task run in one of ``max_workers`` spawned processes (default: CPU count).

    Calls and results travel with cloudpickle, so functions and closures defined in
    ``__main__`` work; a script using this runner needs ``if __name__ == "__main__":``.
    ``timeout_seconds`` interrupts the task inside its process (SIGALRM), stopping the work.
    Its processes end with the process that started them, however that ends (``kill -9``).
    """

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__(max_workers=max_workers)
        self.max_workers = max_workers or os.cpu_count() or 1
        self._pool: cf.ProcessPoolExecutor | None = None

    def start(self) -> None:
        require_main_guard(type(self).__name__)
        context = multiprocessing.get_context("spawn")
        self._pool = cf.ProcessPoolExecutor(
            self.max_workers,
            mp_context=context,
            initializer=exit_with_parent,
            initargs=(os.getpid(),),
        )

    def shutdown(self) -> None:
        if self._pool is not None:
            # Every run is finished unless the flow run timed out; then do not wait for them.
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _launch(self, call: TaskCall, future: TaskFuture[Any]) -> None:
        payload = encode_call(call)
        when_ready(call.upstream, lambda upstream: self._start(payload, future, upstream))

    def _start(self, payload: bytes, future: TaskFuture[Any], upstream: dict[str, State]) -> None:
        assert self._pool is not None
        try:
            done = self._pool.submit(_child_entry, payload, serialization.dumps(upstream))
        except Exception as error:  # a broken pool: the run is lost, say so
            finish_from(future, partial(_raise, error), "process pool")
            return
        done.add_done_callback(lambda d: finish_from(future, d.result, "worker process"))


def exit_with_parent(parent: int) -> None:
    """End this process (``os._exit``) as soon as process ``parent`` is gone: a thread looks
    at the parent pid twice a second. (Unlike Linux's ``PR_SET_PDEATHSIG``, it does not
    matter which of the parent's threads started this process.)"""
    if os.getppid() != parent:  # gone already
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), name="floq-parent", daemon=True).start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_WATCH_SECONDS)
    os._exit(1)


_WATCH_SECONDS = 0.5


def _child_entry(payload: bytes, upstream: bytes) -> bytes:
    return run_encoded(payload, serialization.loads(upstream), TimeoutMode.SIGNAL)


def _raise(error: BaseException) -> bytes:
    raise error
