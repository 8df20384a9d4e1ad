"""How a task call travels to another process and its outcome travels back, as bytes.

The process-pool and Dask runners share this: the call is encoded at submit time (so an
unpicklable argument fails there, naming the task and the argument's type), and the child
sends back the run's final state, history and run count. The code shipped by value keeps its
file names (the child's tracebacks show the lines of files it has; the call is encoded per
run, so the sources themselves stay home), and the state carries its exception's traceback
text (:mod:`floq.tracebacks`): the exception re-raised here shows the child's traceback.
Outcomes are public API of the runners: ``flow-worker`` encodes the ones ``RedisTaskRunner``
decodes with :func:`encode_outcome` and :func:`decode_outcome`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from floq import logs, serialization
from floq.engine.shells import TimeoutMode
from floq.engine.task_runs import run_task_async, run_task_sync
from floq.errors import SerializationError
from floq.futures import TaskFuture
from floq.runners.base import crash, guarded
from floq.runs import TaskCall, TaskRunRecord
from floq.states import Failed, State, StateType, restored

TaskRunOutcome = tuple[State, list[State], int]  # its final state, history and run count

# An outcome whose states carry only builtin scalars travels as plain tuples: cheaper to
# pickle on the worker and to unpickle here than State objects (and their StrEnum type).
_PLAIN_OUTCOME = "floq-plain-outcome-1"
_PLAIN = frozenset({str, bytes, int, float, bool, complex, type(None)})
_TYPES = {member.value: member for member in StateType}
_VALUES = {member: member.value for member in StateType}  # faster than ``.value``


def encode_call(call: TaskCall, secret: bytes | None = None) -> bytes:
    """The call as bytes; an unpicklable argument raises, naming the task and its type."""
    try:
        what = f"the call of task {call.task.name!r}"
        return serialization.dumps(call, secret, what=what, keep_filenames=True)
    except SerializationError as error:
        raise explained(call, error) from None


def explained(call: TaskCall, error: SerializationError) -> SerializationError:
    """``error``, made to name the argument that cannot be pickled and its type, if one is."""
    culprit = _unpicklable_argument(call)
    if culprit is None:
        return error
    return SerializationError(
        f"task {call.task.name!r}: argument {culprit[0]} of type "
        f"{type(culprit[1]).__name__} cannot be serialized ({error.message})",
        run_id=call.run.id,
    )


def _unpicklable_argument(call: TaskCall) -> tuple[str, Any] | None:
    named = [(f"#{i}", a) for i, a in enumerate(call.args)] + list(call.kwargs.items())
    for name, value in named:
        try:
            serialization.dumps(value)
        except SerializationError:
            return name, value
    return None


def run_encoded(payload: bytes, upstream: Mapping[str, State], mode: TimeoutMode) -> bytes:
    """In the child: decode the call, run it to its final state, encode the outcome."""
    call: TaskCall = serialization.loads(payload)
    logs.show_run_logs()
    if call.log_prints:
        logs.enable_log_prints()
    if call.task.is_async:
        state = guarded(call, lambda: asyncio.run(run_task_async(call, upstream)))
    else:
        state = guarded(call, lambda: run_task_sync(call, upstream, mode))
    return encode_outcome(call.run, state)


def encode_outcome(run: TaskRunRecord, state: State, secret: bytes | None = None) -> bytes:
    states = _plain_states(run.history, state)
    if states is not None:
        return serialization.dumps((_PLAIN_OUTCOME, states, run.run_count), secret,
                                   by_reference=True)  # fmt: skip
    what = "its return value" if state.is_completed() else "its exception or state"
    try:
        return serialization.dumps(
            (state, run.history, run.run_count), secret, what=what, by_reference=True
        )
    except SerializationError as error:
        # The value or the exception does not pickle: send back a Failed that says so.
        failed = Failed(
            SerializationError(f"task run {run.name!r}: {error.message}", run_id=run.id),
            f"the outcome of task run {run.name!r} cannot be sent back: {error.message}",
        )
        kept = [s for s in run.history if not s.is_final()] + [failed]
        return serialization.dumps((failed, kept, run.run_count), secret)


def _plain_states(history: list[State], state: State) -> list[tuple[Any, ...]] | None:
    """The history as plain tuples, if it ends with ``state`` and holds only builtin scalars."""
    if not history or history[-1] is not state:
        return None
    states = []
    for s in history:
        if type(s.data) not in _PLAIN:
            return None
        states.append((_VALUES[s.type], s.name, s.message, s.timestamp, s.data))
    return states


def decode_outcome(raw: bytes, secret: bytes | None = None) -> TaskRunOutcome:
    outcome = serialization.loads(raw, secret)
    if type(outcome) is tuple and outcome[0] == _PLAIN_OUTCOME:
        history = [restored(_TYPES[t], name, message, ts, data)
                   for t, name, message, ts, data in outcome[1]]  # fmt: skip
        return history[-1], history, outcome[2]
    return outcome  # type: ignore[no-any-return]


def finish_from(future: TaskFuture[Any], get_outcome: Any, where: str) -> None:
    """Adopt the outcome ``get_outcome()`` returns; if the process was lost, end Crashed."""
    run = future.task_run
    try:
        state, history, run_count = decode_outcome(get_outcome())
        run.adopt(state, history, run_count)
    except BaseException as error:
        state = crash(run, error, f"task run {run.name!r} was lost with its {where}: {error!r}")
    future.finish(state)
