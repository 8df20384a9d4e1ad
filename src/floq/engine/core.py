"""The IO-free heart of every run: attempts, retries, final state and hooks.

:func:`attempts` is a generator. It never calls user code, sleeps or waits itself: it
*yields* what must happen next (an :class:`Invoke` of the run's function, a :class:`Sleep`,
a :class:`CallUser` of a hook or a retry condition) and receives the outcome. The synchronous
and the asyncio shells in :mod:`floq.engine.shells` carry those actions out, so both share
exactly this logic.

Logs (logger ``floq.runs``), chosen as Prefect users expect them, without repeats:

* a retry: one WARNING line, with the error (``retry 1 in 5s: task 'x' failed: ...``);
* a task run that ends Failed or Crashed: one ERROR line with the traceback, where it ran (the
  app, a process-pool child, a worker): its exception may be handled by the flow, and then
  this is the only trace of where it was raised;
* a flow run that does not complete: one ERROR line, ``flow 'f' (f-1a2b) finished:
  Failed(...)``, without a traceback, like Prefect's "Finished in state Failed(...)". Its
  exception always goes to a caller who shows it or handles it: raised by the call, inside
  the state of ``return_state=True``, or raised by RQ on a worker (RQ logs that traceback,
  once) and by ``FlowRun.result()`` in the app, with the worker's traceback as its cause;
* a timeout: no traceback (it would show floq's frames only); a completed run: DEBUG.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

from floq.engine.retries import RetryPolicy
from floq.errors import TaskRunTimeout
from floq.runs import TaskRunRecord
from floq.states import (
    AwaitingRetry,
    Completed,
    Crashed,
    Failed,
    HasState,
    Retrying,
    Running,
    State,
    TimedOut,
    transition,
)

logger = logging.getLogger("floq.runs")

Hook = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Invoke:
    """Run the function once, within ``timeout`` seconds; send back an :class:`AttemptOutcome`."""

    timeout: float | None


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class CallUser:
    """Call a hook or a retry condition with ``args``; send back its return value."""

    fn: Hook
    args: tuple[Any, ...]


Action = Invoke | Sleep | CallUser


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """What one attempt gave: a value, or the exception it raised."""

    value: Any = None
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class RunSpec:
    """What the core needs to know about the thing being run (a task or a flow)."""

    owner: Any  # the Task or Flow, handed to hooks and the retry condition
    label: str  # "task run 'x'" or "flow run 'y'", for messages
    policy: RetryPolicy
    timeout: float | None = None
    retry_condition: Hook | None = None
    on_completion: Sequence[Hook] = ()
    on_failure: Sequence[Hook] = ()


def final_state(spec: RunSpec, run: HasState, outcome: AttemptOutcome) -> State:
    """The state one attempt's outcome stands for."""
    error = outcome.error
    if error is None:
        return Completed(outcome.value)
    if isinstance(error, TaskRunTimeout):
        return TimedOut(error)
    if not isinstance(error, Exception):  # KeyboardInterrupt, SystemExit, ...
        return Crashed(error, f"{spec.label} was interrupted by {type(error).__name__}")
    return Failed(error, f"{spec.label} failed: {type(error).__name__}: {error}")


def attempts(spec: RunSpec, run: Any) -> Generator[Action, Any, State]:
    """Drive ``run`` from Pending to a final state; see the module docstring.

    A run resumed after a retry was scheduled elsewhere (``run_count`` > 0) starts Retrying.
    """
    transition(run, Retrying() if run.run_count else Running())
    while True:
        run.run_count += 1
        outcome: AttemptOutcome = yield Invoke(spec.timeout)
        state = final_state(spec, run, outcome)
        if state.is_failed() and run.run_count <= spec.policy.retries:
            retry = True
            if spec.retry_condition is not None:
                retry = bool((yield CallUser(spec.retry_condition, (spec.owner, run, state))))
            if retry:
                delay = spec.policy.delay(run.run_count)
                note = f"retry {run.run_count} in {delay:.3g}s: {state.message}"
                logger.warning("%s (%s): %s", spec.label, run.name, note)
                transition(run, AwaitingRetry(note))
                if delay > 0:
                    yield Sleep(delay)
                transition(run, Retrying())
                continue
        transition(run, state)
        _log_final(spec, run, state)
        hooks = spec.on_completion if state.is_completed() else spec.on_failure
        for hook in hooks if (state.is_completed() or state.is_failed()) else ():
            yield CallUser(hook, (spec.owner, run, state))
        return state


def _log_final(spec: RunSpec, run: Any, state: State) -> None:
    """The run's end, once: see "Logs" in the module docstring."""
    if state.is_completed():
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s (%s) finished: %r", spec.label, run.name, state)
        return
    error = state.data if isinstance(state.data, BaseException) else None
    with_traceback = error is not None and isinstance(run, TaskRunRecord)
    if isinstance(error, TaskRunTimeout):
        with_traceback = False  # it would show floq's frames only
    exc_info = (type(error), error, error.__traceback__) if with_traceback and error else None
    logger.error("%s (%s) finished: %r", spec.label, run.name, state, exc_info=exc_info)
