"""Task runners in this process: :class:`ConcurrentTaskRunner` (threads) and the sequential one."""

from __future__ import annotations

import concurrent.futures as cf
from typing import Any

from floq.engine.task_runs import run_task_async, run_task_sync
from floq.futures import TaskFuture
from floq.runners.base import TaskRunner, guarded, when_ready
from floq.runners.event_loop import EventLoopThread
from floq.runners.pool import ThreadPool
from floq.runs import TaskCall
from floq.settings import get_settings
from floq.states import State


class ConcurrentTaskRunner(TaskRunner):
    """Runs sync tasks on a thread pool and async tasks on one event loop: the default runner.

    ``max_workers`` bounds the threads (default: ``FLOQ_THREAD_POOL_WORKERS``, 64). A task
    waiting on unfinished upstreams holds no thread: it is handed to the pool when its last
    upstream finishes. Also available as ``ThreadPoolTaskRunner`` (Prefect 3's name).
    """

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__(max_workers=max_workers)
        self.max_workers = max_workers or get_settings().thread_pool_workers
        self._pool: ThreadPool | None = None
        self._loop = EventLoopThread("floq-async-tasks")

    def start(self) -> None:
        self._pool = ThreadPool(self.max_workers, "floq-task")

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        self._loop.stop()

    def _launch(self, call: TaskCall, future: TaskFuture[Any]) -> None:
        when_ready(call.upstream, lambda upstream: self._start(call, future, upstream))

    def _start(self, call: TaskCall, future: TaskFuture[Any], upstream: dict[str, State]) -> None:
        if call.task.is_async:
            done = self._loop.submit(run_task_async(call, upstream))
            done.add_done_callback(lambda d: future.finish(_state_of(call, d)))
        else:
            assert self._pool is not None
            self._pool.submit(_run_and_finish, call, future, upstream)


class SequentialTaskRunner(TaskRunner):
    """Runs each submitted call at once, in the submitting thread, in submission order."""

    def __init__(self) -> None:
        super().__init__()
        self._loop = EventLoopThread("floq-sequential-async")

    def shutdown(self) -> None:
        self._loop.stop()

    def _launch(self, call: TaskCall, future: TaskFuture[Any]) -> None:
        upstream = {run_id: up.wait() for run_id, up in call.upstream.items()}
        if call.task.is_async:
            # On its own loop, so that it works from async flows too; we wait for it here.
            state = _state_of(call, self._loop.submit(run_task_async(call, upstream)))
        else:
            state = guarded(call, lambda: run_task_sync(call, upstream))
        future.finish(state)


def _run_and_finish(call: TaskCall, future: TaskFuture[Any], upstream: dict[str, State]) -> None:
    future.finish(guarded(call, lambda: run_task_sync(call, upstream)))


def _state_of(call: TaskCall, done: cf.Future[State]) -> State:
    return guarded(call, done.result)


ThreadPoolTaskRunner = ConcurrentTaskRunner
