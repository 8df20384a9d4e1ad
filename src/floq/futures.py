"""Futures of task runs, and waiting on many of them: :func:`wait` and :func:`as_completed`.

A :class:`TaskFuture` is deliberately light (one object per task run, no lock or condition of
its own until somebody waits on an unfinished run): a flow may hold many thousands of them.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from floq.runs import TaskRunRecord
from floq.states import State

R = TypeVar("R")

logger = logging.getLogger("floq.futures")

# Guards every future's waiters and callbacks; held only for a few attribute updates.
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class UpstreamRef:
    """A reference to an upstream task run by id: how a future travels to another process."""

    task_run_id: str


class TaskFuture(Generic[R]):
    """The future of one task run, as returned by ``task.submit()`` and ``task.map()``."""

    __slots__ = ("__weakref__", "_callbacks", "_event", "_final", "_run")

    def __init__(self, run: TaskRunRecord) -> None:
        self._run = run
        self._final: State | None = None
        self._event: threading.Event | None = None
        self._callbacks: list[Callable[[TaskFuture[R]], object]] | None = None

    @property
    def task_run_id(self) -> str:
        return self._run.id

    @property
    def task_run(self) -> TaskRunRecord:
        return self._run

    @property
    def state(self) -> State:
        """The run's state now: final once the future is done."""
        return self._final or self._run.state

    def done(self) -> bool:
        return self._final is not None

    def _wait(self, timeout: float | None) -> State | None:
        if self._final is not None:
            return self._final  # the common case: no lock taken
        event = self._waiter()
        if event is not None:
            event.wait(timeout)
        return self._final

    def _waiter(self) -> threading.Event | None:
        """The event to wait on, made on first need; None once the run is finished."""
        with _lock:
            if self._final is not None:
                return None
            if self._event is None:
                self._event = threading.Event()
            return self._event

    def wait(self, timeout: float | None = None) -> State:
        """Wait up to ``timeout`` seconds (forever if None); return the state then, final or not."""
        return self._wait(timeout) or self._run.state

    async def wait_async(self) -> State:
        """Wait without blocking the event loop; return the final state."""
        if self._final is not None:
            return self._final
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[State] = loop.create_future()

        def wake(future: TaskFuture[R]) -> None:
            loop.call_soon_threadsafe(_set_if_pending, waiter, future._final)

        self.add_done_callback(wake)
        return await waiter

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> R:
        """The run's value; re-raises the task's exception (or returns it, if not raising).

        Raises :class:`TimeoutError` if the run is not finished within ``timeout`` seconds.
        """
        state = self._wait(timeout)
        if state is None:
            raise TimeoutError(
                f"task run {self._run.name!r} did not finish within {timeout} seconds"
            )
        return state.result(raise_on_failure)  # type: ignore[no-any-return]

    def add_done_callback(self, fn: Callable[[TaskFuture[R]], object]) -> None:
        """Call ``fn(future)`` once the run is finished (at once if it already is)."""
        if self._final is None:
            with _lock:
                if self._final is None:
                    if self._callbacks is None:
                        self._callbacks = []
                    self._callbacks.append(fn)
                    return
        fn(self)

    def __await__(self) -> Generator[Any, None, R]:
        yield from self.wait_async().__await__()
        return self.result()

    def __reduce__(self) -> tuple[Any, ...]:
        # Crossing a process boundary, a future becomes a reference to its run.
        return (UpstreamRef, (self._run.id,))

    def __repr__(self) -> str:
        return f"TaskFuture({self._run.name!r}, {self.state!r})"

    # --- for task runners -----------------------------------------------------------
    def finish(self, state: State) -> None:
        """Record the run's final state (the runner calls this once); wakes every waiter."""
        with _lock:
            if self._final is not None:
                return
            self._final = state
            event, callbacks, self._callbacks = self._event, self._callbacks, None
        if event is not None:
            event.set()
        for fn in callbacks or ():
            try:
                fn(self)
            except Exception:  # a callback's error must not stop the others
                logger.exception("done callback %r raised", fn)


def _set_if_pending(waiter: asyncio.Future[State], state: State | None) -> None:
    if not waiter.done():
        waiter.set_result(state)  # type: ignore[arg-type]


class DoneAndNotDone(NamedTuple):
    done: set[TaskFuture[Any]]
    not_done: set[TaskFuture[Any]]


def _deadline(timeout: float | None) -> float | None:
    if timeout is not None and timeout < 0:
        raise ValueError(f"timeout must be >= 0 or None, got {timeout!r}")
    return None if timeout is None else time.monotonic() + timeout


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def as_completed(
    futures: Iterable[TaskFuture[R]], timeout: float | None = None
) -> Iterator[TaskFuture[R]]:
    """Yield the futures as they finish (each once); raise :class:`TimeoutError` at the deadline."""
    return _completed(futures, timeout, _deadline(timeout))


def _completed(
    futures: Iterable[TaskFuture[R]], timeout: float | None, deadline: float | None
) -> Iterator[TaskFuture[R]]:
    pending = {id(f): f for f in futures}
    finished: queue.SimpleQueue[TaskFuture[R]] = queue.SimpleQueue()
    for future in pending.values():
        future.add_done_callback(finished.put)
    for _ in range(len(pending)):
        try:
            yield finished.get(timeout=_remaining(deadline))
        except queue.Empty:
            raise TimeoutError(
                f"{len(pending)} future(s) given to as_completed; not all finished "
                f"within {timeout} seconds"
            ) from None


def wait(futures: Iterable[TaskFuture[Any]], timeout: float | None = None) -> DoneAndNotDone:
    """Wait until every future is done or ``timeout`` passes; never raises on timeout."""
    deadline = _deadline(timeout)
    unique = set(futures)
    for future in unique:
        future._wait(_remaining(deadline))
    done = {f for f in unique if f.done()}
    return DoneAndNotDone(done, unique - done)


class TaskFutureList(list[TaskFuture[R]]):
    """What ``task.map()`` returns: a list of futures that can also wait for all of them."""

    def wait(self, timeout: float | None = None) -> None:
        """Block until every run is finished, or ``timeout`` seconds pass for all of them."""
        wait(self, timeout)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> list[R]:
        """Every run's value, in order; ``timeout`` bounds the whole wait (TimeoutError)."""
        deadline = _deadline(timeout)
        return [f.result(_remaining(deadline), raise_on_failure) for f in self]
