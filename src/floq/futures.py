"""Futures of task runs, and waiting on many of them: :func:`wait` and :func:`as_completed`."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from floq.runs import TaskRunRecord
from floq.states import State

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class UpstreamRef:
    """A reference to an upstream task run by id: how a future travels to another process."""

    task_run_id: str


class TaskFuture(Generic[R]):
    """The future of one task run, as returned by ``task.submit()`` and ``task.map()``."""

    __slots__ = ("__weakref__", "_done", "_run")

    def __init__(self, run: TaskRunRecord) -> None:
        self._run = run
        self._done: cf.Future[State] = cf.Future()

    @property
    def task_run_id(self) -> str:
        return self._run.id

    @property
    def task_run(self) -> TaskRunRecord:
        return self._run

    @property
    def state(self) -> State:
        """The run's state now: final once the future is done."""
        return self._run.state

    def done(self) -> bool:
        return self._done.done()

    def wait(self, timeout: float | None = None) -> State:
        """Wait up to ``timeout`` seconds (forever if None); return the state then, final or not."""
        try:
            return self._done.result(timeout)
        except TimeoutError:
            return self._run.state

    async def wait_async(self) -> State:
        """Wait without blocking the event loop; return the final state."""
        return await asyncio.wrap_future(self._done)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> R:
        """The run's value; re-raises the task's exception (or returns it, if not raising).

        Raises :class:`TimeoutError` if the run is not finished within ``timeout`` seconds.
        """
        try:
            state = self._done.result(timeout)
        except TimeoutError:
            raise TimeoutError(
                f"task run {self._run.name!r} did not finish within {timeout} seconds"
            ) from None
        return state.result(raise_on_failure)  # type: ignore[no-any-return]

    def add_done_callback(self, fn: Callable[[TaskFuture[R]], object]) -> None:
        """Call ``fn(future)`` once the run is finished (at once if it already is)."""
        self._done.add_done_callback(lambda _: fn(self))

    def __await__(self) -> Generator[Any, None, R]:
        yield from asyncio.wrap_future(self._done).__await__()
        return self.result()

    def __reduce__(self) -> tuple[Any, ...]:
        # Crossing a process boundary, a future becomes a reference to its run.
        return (UpstreamRef, (self._run.id,))

    def __repr__(self) -> str:
        return f"TaskFuture({self._run.name!r}, {self._run.state!r})"

    # --- for task runners -----------------------------------------------------------
    def finish(self, state: State) -> None:
        """Record the run's final state (set by the runner); wakes every waiter."""
        if not self._done.done():
            self._done.set_result(state)


class DoneAndNotDone(NamedTuple):
    done: set[TaskFuture[Any]]
    not_done: set[TaskFuture[Any]]


def _check_timeout(timeout: float | None) -> None:
    if timeout is not None and timeout < 0:
        raise ValueError(f"timeout must be >= 0 or None, got {timeout!r}")


def wait(futures: Iterable[TaskFuture[Any]], timeout: float | None = None) -> DoneAndNotDone:
    """Wait until every future is done or ``timeout`` passes; never raises on timeout."""
    _check_timeout(timeout)
    by_inner = {f._done: f for f in futures}
    done, not_done = cf.wait(by_inner, timeout)
    return DoneAndNotDone({by_inner[f] for f in done}, {by_inner[f] for f in not_done})


def as_completed(
    futures: Iterable[TaskFuture[R]], timeout: float | None = None
) -> Iterator[TaskFuture[R]]:
    """Yield the futures as they finish; raise :class:`TimeoutError` at the deadline."""
    _check_timeout(timeout)
    by_inner = {f._done: f for f in futures}
    for inner in cf.as_completed(by_inner, timeout):
        yield by_inner[inner]
