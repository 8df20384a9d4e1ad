"""ProcessPoolTaskRunner: task runs in a pool of spawned Python processes."""

from __future__ import annotations

import os
import signal
from functools import partial
from typing import Any

from floq import serialization
from floq.engine.shells import TimeoutMode
from floq.futures import TaskFuture
from floq.runners.base import TaskRunner, when_ready
from floq.runners.main_guard import require_main_guard
from floq.runners.process_pool import ProcessPool, exit_with_parent, outcome
from floq.runners.transport import encode_call, finish_from, run_encoded
from floq.runs import TaskCall
from floq.states import State


class ProcessPoolTaskRunner(TaskRunner):
    """Runs each task run in one of ``max_workers`` spawned processes (default: CPU count).

    Calls and results travel with cloudpickle, so functions and closures defined in
    ``__main__`` work; a script using this runner needs ``if __name__ == "__main__":``.
    ``timeout_seconds`` interrupts the task inside its process (SIGALRM), stopping the work.
    A process starts when a run finds none idle. One that dies (a task calling ``os._exit``, a
    crash in a C extension, the OOM killer) ends only its own run Crashed, naming the exit
    code or signal; another takes its place (a ``ProcessPoolExecutor`` crashes every run in
    flight and every later one). The processes end with the process that started them,
    however that ends (``kill -9``).
    """

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__(max_workers=max_workers)
        self.max_workers = max_workers or os.cpu_count() or 1
        self._pool: ProcessPool | None = None

    def start(self) -> None:
        require_main_guard(type(self).__name__)
        initargs = (os.getpid(),)
        self._pool = ProcessPool(self.max_workers, _child_start, initargs, start_all=False)

    def shutdown(self) -> None:
        if self._pool is not None:
            # Every run is finished unless the flow run timed out: then its processes are
            # killed, which stops the work (a ProcessPoolExecutor left it running).
            unfinished = any(not future.done() for future in self._futures)
            self._pool.shutdown(kill=unfinished, wait=False)
            self._pool = None

    def _launch(self, call: TaskCall, future: TaskFuture[Any]) -> None:
        payload = encode_call(call)
        when_ready(call.upstream, lambda upstream: self._start(payload, future, upstream))

    def _start(self, payload: bytes, future: TaskFuture[Any], upstream: dict[str, State]) -> None:
        assert self._pool is not None

        def reply(ok: bool, value: Any) -> None:
            finish_from(future, partial(outcome, ok, value), "worker process")

        try:
            self._pool.submit(_child_entry, (payload, serialization.dumps(upstream)), reply)
        except Exception as error:  # a pool shut down: the run is lost, say so
            finish_from(future, partial(outcome, False, error), "process pool")


def _child_start(parent: int) -> None:
    """In a new process: Ctrl-C interrupts its task (as in the app), and it ends with the app."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # the pool starts it blocked
    exit_with_parent(parent)


def _child_entry(payload: bytes, upstream: bytes) -> bytes:
    return run_encoded(payload, serialization.loads(upstream), TimeoutMode.SIGNAL)
