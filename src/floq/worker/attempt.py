"""One claimed attempt: the function that runs it (the claim and result records are the
protocol's, :mod:`floq.store.protocol.records`).

:func:`execute` runs wherever the worker's mode puts it (a thread, a child process, a Dask
worker): it gets bytes and gives bytes back, so the payload stays encoded until it arrives.
"""

from __future__ import annotations

from floq.engine.shells import TimeoutMode
from floq.engine.task_runs import run_attempt
from floq.errors import FloqError, SerializationError
from floq.runners.base import guarded
from floq.runners.transport import decode_outcome, encode_outcome
from floq.runs import RunRecord, TaskCall, TaskRunRecord
from floq.states import Crashed, Failed, State, StateType
from floq.store.protocol import Claim, Result, Summary
from floq.store.records import CallRecord, task_for

__all__ = [
    "Claim", "Result", "attempt_sync", "crashed", "execute", "prepare", "result_of", "summarize",
    "undecodable",
]  # fmt: skip


def summarize(run: RunRecord, state: State) -> Summary:
    """State type, state name, message (shortened), attempt start and end (epoch seconds)."""
    started = state.timestamp
    for earlier in reversed(run.history):
        if earlier.type is StateType.RUNNING:
            started = earlier.timestamp
            break
    message = state.message if len(state.message) <= 500 else state.message[:497] + "..."
    return Summary(state.type, state.name, message, f"{started:.6f}", f"{state.timestamp:.6f}")


def prepare(
    payload: bytes,
    code: str,
    code_raw: bytes | None,
    upstream: dict[str, bytes | None],
    previous: bytes | None,
    secret: bytes | None,
) -> tuple[TaskCall, dict[str, State]]:
    """The decoded call (its run resumed if this is a retry) and its upstream states."""
    record = CallRecord.decode(payload, secret)
    call = record.to_call(task_for(code, code_raw, secret))
    if previous is not None:
        call.run.adopt(*decode_outcome(previous, secret))
    states = {run_id: _upstream_state(run_id, raw, secret) for run_id, raw in upstream.items()}
    return call, states


def result_of(call: TaskCall, state: State, delay: float | None, secret: bytes | None) -> Result:
    outcome = encode_outcome(call.run, state, secret)
    summary = summarize(call.run, state)
    return Result(outcome, delay is None, delay, summary=summary, task=call.run.task_name)


def execute(
    payload: bytes,
    code: str,
    code_raw: bytes | None,
    upstream: dict[str, bytes | None],
    previous: bytes | None,
    secret: bytes | None,
    mode: TimeoutMode,
) -> Result:
    """Decode the call, run one attempt (and any immediate retries), encode the outcome."""
    call, states = prepare(payload, code, code_raw, upstream, previous, secret)
    return result_of(call, *attempt_sync(call, states, mode), secret)


def attempt_sync(
    call: TaskCall, states: dict[str, State], mode: TimeoutMode
) -> tuple[State, float | None]:
    """Run the attempt here; should floq itself fail, the run ends Crashed."""
    delay: float | None = None

    def attempt() -> State:
        nonlocal delay
        state, delay = run_attempt(call, states, mode)
        return state

    return guarded(call, attempt), delay


def _upstream_state(run_id: str, raw: bytes | None, secret: bytes | None) -> State:
    if raw is None:
        return Crashed(FloqError(f"the outcome of upstream task run {run_id} is gone (expired?)"))
    return decode_outcome(raw, secret)[0]


def undecodable(claim: Claim, error: BaseException, secret: bytes | None) -> Result:
    """The Failed outcome of a payload that cannot be run; it also goes to the dead letters."""
    reason = f"{type(error).__name__}: {error}"
    run = TaskRunRecord(claim.task_run_id, claim.task_run_id, "<undecodable>", claim.flow_run_id)
    refused = SerializationError(f"task run payload refused: {reason}", run_id=claim.task_run_id)
    refused.__cause__ = error  # its traceback text travels with the outcome
    failed = Failed(
        refused, f"the payload of task run {claim.task_run_id} could not be decoded: {reason}"
    )
    run.adopt(failed, [run.state, failed], 0)
    outcome = encode_outcome(run, failed, secret)
    return Result(outcome, dead_letter=reason, summary=summarize(run, failed), task="<undecodable>")


def crashed(
    claim: Claim, error: BaseException, secret: bytes | None, name: str | None = None
) -> Result:
    """The outcome of an attempt whose executor failed (a lost child process, say); ``name``:
    the task run's, if known."""
    run = TaskRunRecord(claim.task_run_id, name or claim.task_run_id, "<lost>", claim.flow_run_id)
    which = f"{name!r} ({claim.task_run_id})" if name else claim.task_run_id
    message = f"the worker lost task run {which}: {type(error).__name__}: {error}"
    lost = FloqError(message, run_id=claim.task_run_id)
    lost.__cause__ = error
    state = Crashed(lost, message)
    run.adopt(state, [run.state, state], claim.attempt)
    summary = summarize(run, state)
    return Result(encode_outcome(run, state, secret), summary=summary, task="<lost>")
