"""One claimed attempt: the record of what was claimed, and the function that runs it.

:func:`execute` runs wherever the worker's mode puts it (a thread, a child process, a Dask
worker): it gets bytes and gives bytes back, so the payload stays encoded until it arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from floq.engine.shells import TimeoutMode
from floq.engine.task_runs import TaskCall, run_attempt
from floq.errors import FloqError, SerializationError
from floq.runners.base import guarded
from floq.runners.transport import decode_outcome, encode_outcome
from floq.runs import RunRecord, TaskRunRecord
from floq.states import Crashed, Failed, State
from floq.store.records import CallRecord, task_for


@dataclass(frozen=True, slots=True)
class Claim:
    """A stream entry this worker claimed; ``entry_id`` is the attempt's fencing token."""

    queue: str
    entry_id: str
    flow_run_id: str
    task_run_id: str
    payload: bytes
    code: str = ""
    upstream_ids: tuple[str, ...] = ()
    attempt: int = 1
    code_raw: bytes | None = None
    upstream: dict[str, bytes | None] = field(default_factory=dict)
    previous: bytes | None = None

    @classmethod
    def decode(cls, queue: str, entry_id: bytes, fields: dict[bytes, bytes]) -> Claim:
        """Build a claim from a raw stream entry; a malformed one raises, naming what is wrong."""
        try:
            upstream = fields[b"u"].decode()
            return cls(
                queue=queue,
                entry_id=entry_id.decode(),
                flow_run_id=fields[b"f"].decode(),
                task_run_id=fields[b"t"].decode(),
                payload=fields[b"p"],
                code=fields[b"c"].decode(),
                upstream_ids=tuple(upstream.split(",")) if upstream else (),
                attempt=int(fields[b"n"]),
            )
        except (KeyError, ValueError, UnicodeDecodeError) as error:
            raise SerializationError(
                f"malformed queue entry {entry_id!r}: {error!r}", raw=repr(fields).encode()
            ) from None


@dataclass(frozen=True, slots=True)
class Result:
    """What one attempt gave: the encoded outcome, whether it is final, the retry delay."""

    outcome: bytes
    final: bool = True
    retry_in: float | None = None
    dead_letter: str | None = None  # why the payload could not be run, if it could not
    # the outcome in plain words for `floq inspect`: state type, name, message, start, end
    summary: tuple[str, str, str, str, str] = ("FAILED", "Failed", "", "", "")


def summarize(run: RunRecord, state: State) -> tuple[str, str, str, str, str]:
    """State type, state name, message (shortened), attempt start and end (epoch seconds)."""
    running = [s.timestamp for s in run.history if s.is_running()]
    started = running[-1] if running else state.timestamp
    message = state.message if len(state.message) <= 500 else state.message[:497] + "..."
    return (state.type.value, state.name, message, f"{started:.6f}", f"{state.timestamp:.6f}")


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
    return Result(outcome, delay is None, delay, summary=summarize(call.run, state))


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
    return Result(outcome, dead_letter=reason, summary=summarize(run, failed))


def crashed(claim: Claim, error: BaseException, secret: bytes | None) -> Result:
    """The outcome of an attempt whose executor failed (a lost child process, say)."""
    run = TaskRunRecord(claim.task_run_id, claim.task_run_id, "<lost>", claim.flow_run_id)
    message = f"the worker lost task run {claim.task_run_id}: {type(error).__name__}: {error}"
    lost = FloqError(message, run_id=claim.task_run_id)
    lost.__cause__ = error
    state = Crashed(lost, message)
    run.adopt(state, [run.state, state], claim.attempt)
    return Result(encode_outcome(run, state, secret), summary=summarize(run, state))
