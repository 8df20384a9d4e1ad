"""The task-runner interface every runner implements, and what the local ones share.

A runner runs the task calls of one flow run. It has ``submit(call) -> TaskFuture`` and
``map(calls) -> list[TaskFuture]``, and is a context manager: leaving a ``with`` block waits
for every run it was given, then shuts down. The flow engine enters it before the body runs
and leaves with :meth:`TaskRunner.close` (no waiting), because each attempt of the body
already waited for its own task runs, and a timed-out flow run must not wait. A subclass writes only
``start``, ``shutdown`` and ``_launch``, and passes its constructor arguments to
``super().__init__(**config)``: a runner is copied (one per flow run) and pickled (an enqueued
flow carries its runner to the worker) as that configuration alone.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Mapping
from typing import Any, Self

from floq.errors import RunnerError
from floq.futures import TaskFuture
from floq.runs import TaskCall
from floq.states import Crashed, State, transition


class TaskRunner(abc.ABC):
    """Runs task calls for a flow run; see the module docstring."""

    def __init__(self, **config: Any) -> None:
        self._config = config
        self._started = False
        self._futures: list[TaskFuture[Any]] = []

    def duplicate(self) -> Self:
        """A new, unstarted runner with the same configuration (one per flow run)."""
        return type(self)(**self._config)

    def __reduce__(self) -> tuple[Any, ...]:
        """A runner travels (in an enqueued flow, to a worker) as its configuration: its class
        and constructor arguments, never its live state (threads, pools, clients, queues)."""
        return (_rebuild, (type(self), self._config))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._config.items() if v is not None)
        return f"{type(self).__name__}({args})"

    def __enter__(self) -> Self:
        self.start()
        self._started = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.wait_all()
        finally:
            self.close()

    def close(self) -> None:
        """Stop without waiting for unfinished runs (a flow run that timed out leaves so)."""
        self._started = False
        self.shutdown()

    def start(self) -> None:  # noqa: B027 - optional hook
        """Acquire what the runner needs (pools, clients)."""

    def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Release what :meth:`start` acquired."""

    def submit(self, call: TaskCall) -> TaskFuture[Any]:
        """Start ``call`` once its upstream runs are finished; return its future at once."""
        if not self._started:
            raise RunnerError(
                f"{type(self).__name__} is not started: enter it with `with runner:` "
                "(a flow does this for you)",
                run_id=call.run.id,
            )
        future: TaskFuture[Any] = TaskFuture(call.run)
        self._launch(call, future)
        self._futures.append(future)
        return future

    def map(self, calls: list[TaskCall]) -> list[TaskFuture[Any]]:
        return [self.submit(call) for call in calls]

    def wait_all(self) -> None:
        """Block until every run given to this runner is finished."""
        for future in self._futures:
            future.wait()

    @abc.abstractmethod
    def _launch(self, call: TaskCall, future: TaskFuture[Any]) -> None:
        """Arrange for ``call`` to run and for ``future.finish(state)`` to follow."""


def _rebuild(cls: type[TaskRunner], config: dict[str, Any]) -> TaskRunner:
    return cls(**config)


def when_ready(
    upstream: Mapping[str, TaskFuture[Any]], start: Callable[[dict[str, State]], None]
) -> None:
    """Call ``start(upstream_states)`` once every upstream future is done, in no thread of ours.

    Nothing blocks while waiting: the last upstream to finish calls ``start``.
    """
    if not upstream:
        start({})
        return
    remaining = [len(upstream)]
    lock = threading.Lock()

    def one_done(_: TaskFuture[Any]) -> None:
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            start({run_id: future.state for run_id, future in upstream.items()})

    for future in upstream.values():
        future.add_done_callback(one_done)


def guarded(call: TaskCall, run: Callable[[], State]) -> State:
    """Run ``run()``; should floq itself fail, the run ends Crashed instead of hanging."""
    try:
        return run()
    except BaseException as error:
        message = f"task run {call.run.name!r} crashed inside floq: {type(error).__name__}: {error}"
        return crash(call.run, error, message)


def crash(run: Any, error: BaseException, message: str) -> State:
    if run.state.is_final():
        return run.state  # type: ignore[no-any-return]
    return transition(run, Crashed(error, message))
