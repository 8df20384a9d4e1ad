"""Thin shells that carry out the core's actions: one synchronous, one under asyncio.

Timeouts in the synchronous shell come in two kinds (``TimeoutMode``):

* ``THREAD``: the attempt runs in a helper thread; at the deadline the run ends TimedOut and
  the helper is abandoned (Python cannot stop a thread), so the flow never blocks on it.
* ``SIGNAL``: SIGALRM interrupts the attempt in the main thread, which stops the work. The
  process-pool runner uses it, since its children run tasks on their main thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import inspect
import logging
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Generator
from types import FrameType
from typing import Any

from floq.engine.core import Action, AttemptOutcome, CallUser, Invoke, Sleep
from floq.errors import TaskRunTimeout
from floq.states import State

logger = logging.getLogger("floq.engine")


class TimeoutMode(enum.Enum):
    THREAD = "thread"
    SIGNAL = "signal"


def drive_sync(
    core: Generator[Action, Any, State],
    invoke: Callable[[], Any],
    label: str,
    mode: TimeoutMode = TimeoutMode.THREAD,
    sleep: Callable[[float], None] | None = None,
) -> State:
    """Run ``core`` to its final state, calling ``invoke()`` for each attempt.

    ``sleep`` waits before a retry; one that raises hands the retry to someone else (the
    Redis worker schedules it in Redis instead of holding a slot).
    """
    sleep = sleep or time.sleep
    reply: Any = None
    try:
        while True:
            action = core.send(reply)
            if isinstance(action, Invoke):
                reply = _attempt_sync(invoke, action.timeout, label, mode)
            elif isinstance(action, Sleep):
                sleep(action.seconds)
                reply = None
            else:
                reply = _call_user(action, _run_maybe_async)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def drive_async(
    core: Generator[Action, Any, State],
    invoke: Callable[[], Awaitable[Any]],
    label: str,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> State:
    """Run ``core`` to its final state, awaiting ``invoke()`` for each attempt."""
    sleep = sleep or asyncio.sleep
    reply: Any = None
    try:
        while True:
            action = core.send(reply)
            if isinstance(action, Invoke):
                reply = await _attempt_async(invoke, action.timeout, label)
            elif isinstance(action, Sleep):
                await sleep(action.seconds)
                reply = None
            else:
                reply = _call_user(action, lambda value: value)
                if inspect.isawaitable(reply):
                    reply = await _awaited(action, reply)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


def _timeout_error(label: str, timeout: float) -> TaskRunTimeout:
    return TaskRunTimeout(f"{label} exceeded its timeout of {timeout:g} seconds")


def _attempt_sync(
    invoke: Callable[[], Any], timeout: float | None, label: str, mode: TimeoutMode
) -> AttemptOutcome:
    try:
        if timeout is None:
            return AttemptOutcome(invoke())
        if mode is TimeoutMode.SIGNAL and threading.current_thread() is threading.main_thread():
            return AttemptOutcome(_with_alarm(invoke, timeout, label))
        return AttemptOutcome(_in_helper_thread(invoke, timeout, label))
    except BaseException as error:
        return AttemptOutcome(error=error)


async def _attempt_async(
    invoke: Callable[[], Awaitable[Any]], timeout: float | None, label: str
) -> AttemptOutcome:
    try:
        if timeout is None:
            return AttemptOutcome(await invoke())
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                return AttemptOutcome(await invoke())
        except TimeoutError:
            if not deadline.expired():
                raise  # the task's own TimeoutError, not ours
            raise _timeout_error(label, timeout) from None
    except asyncio.CancelledError:
        raise
    except BaseException as error:
        return AttemptOutcome(error=error)


def _with_alarm(invoke: Callable[[], Any], timeout: float, label: str) -> Any:
    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise _timeout_error(label, timeout)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return invoke()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _in_helper_thread(invoke: Callable[[], Any], timeout: float, label: str) -> Any:
    box: list[AttemptOutcome] = []
    done = threading.Event()
    context = contextvars.copy_context()

    def target() -> None:
        try:
            box.append(AttemptOutcome(context.run(invoke)))
        except BaseException as error:
            box.append(AttemptOutcome(error=error))
        done.set()

    threading.Thread(target=target, name=f"floq-timeout-{label}", daemon=True).start()
    if not done.wait(timeout):
        raise _timeout_error(label, timeout)
    outcome = box[0]
    if outcome.error is not None:
        raise outcome.error
    return outcome.value


def _run_maybe_async(value: Any) -> Any:
    if inspect.isawaitable(value):
        return asyncio.run(_as_coroutine(value))
    return value


async def _as_coroutine(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _call_user(action: CallUser, finish: Callable[[Any], Any]) -> Any:
    """Call a hook or retry condition; its errors are logged, never raised (reply: None)."""
    try:
        return finish(action.fn(*action.args))
    except Exception:
        logger.exception("%s raised; carrying on", getattr(action.fn, "__name__", action.fn))
        return None


async def _awaited(action: CallUser, awaitable: Awaitable[Any]) -> Any:
    try:
        return await awaitable
    except Exception:
        logger.exception("%s raised; carrying on", getattr(action.fn, "__name__", action.fn))
        return None
