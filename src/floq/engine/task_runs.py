"""One task run, from its call to its final state, in the thread or process that runs it.

A runner hands :func:`run_task_sync` (or :func:`run_task_async`) a :class:`TaskCall` and the
final states of the call's upstream runs. Inputs are resolved (a failed upstream leaves the
run ``NotReady``, never started), the cache is asked, and then the shared core drives the
attempts.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from floq import context
from floq.context import RunContext
from floq.engine import inputs
from floq.engine.core import attempts
from floq.engine.shells import TimeoutMode, drive_async, drive_sync
from floq.runs import TaskCall
from floq.states import Cached, NotReady, State, transition


def _prepare(call: TaskCall, upstream: Mapping[str, State]) -> State | tuple[Any, Any]:
    """The resolved (args, kwargs), or the final state when the run must not start."""
    args, kwargs = call.args, call.kwargs
    try:
        if call.resolve:
            args = inputs.resolve(args, upstream)
            kwargs = inputs.resolve(kwargs, upstream)
            inputs.resolve(call.wait_for, upstream)
    except inputs.NotReadyError as error:
        message = (
            f"upstream task run {error.upstream_id} ended {error.state.name}"
            f"{': ' + error.state.message if error.state.message else ''}; "
            f"task run {call.run.name!r} was not started"
        )
        return transition(call.run, NotReady(message))
    cached = _cache.get(call.task, args, kwargs) if call.task.options.cache_key_fn else None
    if cached is not None:
        return transition(call.run, Cached(cached.data, "result taken from the cache"))
    return args, kwargs


def _context(call: TaskCall) -> RunContext:
    return RunContext(call.flow_run, call.run, call.log_prints)


def run_task_sync(
    call: TaskCall,
    upstream: Mapping[str, State],
    mode: TimeoutMode = TimeoutMode.THREAD,
    sleep: Callable[[float], None] | None = None,
) -> State:
    """Run a synchronous task call to its final state in this thread."""
    prepared = _prepare(call, upstream)
    if isinstance(prepared, State):
        return prepared
    args, kwargs = prepared
    fn, spec = call.task.fn, call.task.run_spec
    token = context.enter(_context(call))
    try:
        invoke = lambda: fn(*args, **kwargs)  # noqa: E731
        state = drive_sync(attempts(spec, call.run), invoke, spec.label, mode, sleep)
    finally:
        context.leave(token)
    if call.task.options.cache_key_fn:
        _cache.put(call.task, args, kwargs, state)
    return state


async def run_task_async(
    call: TaskCall,
    upstream: Mapping[str, State],
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> State:
    """Run an ``async def`` task call to its final state on the running event loop."""
    prepared = _prepare(call, upstream)
    if isinstance(prepared, State):
        return prepared
    args, kwargs = prepared
    fn, spec = call.task.fn, call.task.run_spec
    with context.entered(_context(call)):
        invoke = lambda: fn(*args, **kwargs)  # noqa: E731
        state = await drive_async(attempts(spec, call.run), invoke, spec.label, sleep)
    if call.task.options.cache_key_fn:
        _cache.put(call.task, args, kwargs, state)
    return state


class _Cache:
    """Results of tasks with a ``cache_key_fn``, kept in this process until they expire."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[State, float | None]] = {}

    def _key(self, task: Any, args: Any, kwargs: Any) -> str | None:
        key = task.options.cache_key_fn(context.current(), task.bind(args, kwargs))
        return None if key is None else f"{task.name}:{key}"

    def get(self, task: Any, args: Any, kwargs: Any) -> State | None:
        key = self._key(task, args, kwargs)
        if key is None:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or (entry[1] is not None and entry[1] < time.time()):
                return None
            return entry[0]

    def put(self, task: Any, args: Any, kwargs: Any, state: State) -> None:
        if not state.is_completed():
            return
        key = self._key(task, args, kwargs)
        if key is None:
            return
        expiration = task.cache_expiration
        expires = None if expiration is None else time.time() + expiration.total_seconds()
        with self._lock:
            self._entries[key] = (state, expires)


_cache = _Cache()


class RetryLater(Exception):
    """Raised instead of sleeping before a retry: the attempt ends AwaitingRetry here."""

    def __init__(self, delay: float) -> None:
        super().__init__(delay)
        self.delay = delay


def _defer(delay: float) -> None:
    raise RetryLater(delay)


async def _defer_async(delay: float) -> None:
    raise RetryLater(delay)


def run_attempt(
    call: TaskCall, upstream: Mapping[str, State], mode: TimeoutMode
) -> tuple[State, float | None]:
    """Run the call until it is final or a retry must wait: (state, seconds to wait or None).

    Retries without a delay run here at once; one with a delay is handed back, so that the
    caller can schedule it (in Redis) and free its slot.
    """
    if call.task.is_async:
        return asyncio.run(run_attempt_async(call, upstream))
    try:
        return run_task_sync(call, upstream, mode, _defer), None
    except RetryLater as later:
        return call.run.state, later.delay


async def run_attempt_async(
    call: TaskCall, upstream: Mapping[str, State]
) -> tuple[State, float | None]:
    """:func:`run_attempt` for an ``async def`` task, on the running event loop."""
    try:
        return await run_task_async(call, upstream, _defer_async), None
    except RetryLater as later:
        return call.run.state, later.delay
