"""The messages of the task-run protocol, each a frozen record with ``encode``/``decode``.

* :class:`Submission`: a task run as the coordinator submits it (``submit.lua``'s ARGV).
* :class:`Claim`: a queue entry a worker claimed (the entry's fields), with the inputs fetched
  for it.
* :class:`Summary` and :class:`Result`: what an attempt gave, as ``complete.lua`` records it.
* :class:`FlowCall`: an enqueued flow run's call, the argument of its RQ job.

The task call itself (the entry's payload) is :class:`floq.store.records.CallRecord`. Decoding
errors are :class:`~floq.errors.SerializationError` carrying the raw bytes and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from floq import serialization
from floq.errors import SerializationError
from floq.store.protocol.fields import EntryField, as_text

_ENTRY_FIELDS = (
    EntryField.FLOW_RUN, EntryField.TASK_RUN, EntryField.PAYLOAD, EntryField.UPSTREAM,
    EntryField.ATTEMPT, EntryField.CODE,
)  # fmt: skip
_ENTRY_KEYS = tuple(name.encode() for name in _ENTRY_FIELDS)  # as they come back from Redis


@dataclass(frozen=True, slots=True)
class Submission:
    """One task run submitted to a queue; ``code_raw`` is sent with a task's first call only."""

    task_run_id: str
    flow_run_id: str
    payload: bytes
    upstream: tuple[str, ...]
    code: str
    name: str
    code_raw: bytes | None = None

    def encode(self) -> tuple[str, bytes, str, str, str]:
        """Its five values in ``submit.lua``'s ARGV: id, payload, upstream ids, code, name."""
        return self.task_run_id, self.payload, ",".join(self.upstream), self.code, self.name

    @classmethod
    def decode(cls, flow_run_id: str, values: tuple[Any, ...]) -> Submission:
        try:
            run_id, payload, upstream, code, name = values
            ups = as_text(upstream)
            upstream_ids = tuple(ups.split(",")) if ups else ()
            return cls(as_text(run_id), flow_run_id, bytes(payload), upstream_ids,
                       as_text(code), as_text(name))  # fmt: skip
        except (TypeError, ValueError, UnicodeDecodeError) as error:
            raise SerializationError(
                f"malformed submission: {error!r}", raw=repr(values).encode()
            ) from None


@dataclass(frozen=True, slots=True)
class Claim:
    """A stream entry this worker claimed; ``entry_id`` is the attempt's fencing token.

    ``code_raw``, ``upstream`` and ``previous`` are the inputs fetched for it: the task's code
    (unless cached), its upstreams' outcomes, and a retry's previous outcome."""

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

    def encode(self) -> dict[str, str | bytes]:
        """The queue entry's fields (``submit.lua`` and ``promote.lua`` write the same)."""
        values = (self.flow_run_id, self.task_run_id, self.payload, ",".join(self.upstream_ids),
                  str(self.attempt), self.code)  # fmt: skip
        return dict(zip(_ENTRY_FIELDS, values, strict=True))

    @classmethod
    def decode(cls, queue: str, entry_id: bytes, fields: dict[bytes, bytes]) -> Claim:
        """Build a claim from a raw stream entry; a malformed one raises, naming what is wrong."""
        try:
            f, t, p, u, n, c = _ENTRY_KEYS
            flow_run_id, task_run_id, payload = fields[f], fields[t], fields[p]
            upstream, attempt, code = fields[u], fields[n], fields[c]
            ups = upstream.decode()
            return cls(
                queue=queue, entry_id=entry_id.decode(), flow_run_id=flow_run_id.decode(),
                task_run_id=task_run_id.decode(), payload=payload, code=code.decode(),
                upstream_ids=tuple(ups.split(",")) if ups else (), attempt=int(attempt),
            )  # fmt: skip
        except (KeyError, ValueError, UnicodeDecodeError) as error:
            raise SerializationError(
                f"malformed queue entry {entry_id!r}: {error!r}", raw=repr(fields).encode()
            ) from None

    def with_inputs(
        self,
        code_raw: bytes | None,
        upstream: dict[str, bytes | None] | None = None,
        previous: bytes | None = None,
    ) -> Claim:
        """This claim with the inputs fetched for it (``dataclasses.replace``, only cheaper)."""
        return Claim(self.queue, self.entry_id, self.flow_run_id, self.task_run_id,
                     self.payload, self.code, self.upstream_ids, self.attempt, code_raw,
                     upstream if upstream is not None else {}, previous)  # fmt: skip

    @classmethod
    def named_by(cls, queue: str, entry_id: bytes, fields: dict[bytes, bytes]) -> Claim | None:
        """The claim of a malformed entry that still names its run, if it does."""
        flow_run_id = fields.get(EntryField.FLOW_RUN.encode())
        task_run_id = fields.get(EntryField.TASK_RUN.encode())
        if not (flow_run_id and task_run_id):
            return None
        payload = fields.get(EntryField.PAYLOAD.encode(), b"")
        return cls(queue, entry_id.decode(), flow_run_id.decode(), task_run_id.decode(), payload)


@dataclass(frozen=True, slots=True)
class Summary:
    """An outcome in plain words for `floq inspect`: state type, name, message, attempt
    start and end (epoch seconds, as text)."""

    type: str = "FAILED"
    name: str = "Failed"
    message: str = ""
    started: str = ""
    ended: str = ""

    def encode(self) -> tuple[str, str, str, str, str]:
        return self.type, self.name, self.message, self.started, self.ended

    @classmethod
    def decode(cls, values: tuple[Any, ...]) -> Summary:
        if len(values) != 5:
            raise SerializationError("malformed outcome summary", raw=repr(values).encode())
        return cls(*(as_text(v) for v in values))


@dataclass(frozen=True, slots=True)
class Result:
    """What one attempt gave: the encoded outcome, whether it is final, the retry delay."""

    outcome: bytes
    final: bool = True
    retry_in: float | None = None
    dead_letter: str | None = None  # why the payload could not be run, if it could not
    summary: Summary = Summary()
    task: str = ""  # the task's name, for the worker's metrics (not written)

    def encode(self, now: float) -> tuple[bytes | str, ...]:
        """Its eight values in ``complete.lua``'s ARGV: outcome, final, retry due (ms), summary."""
        due = "" if self.retry_in is None else str(int((now + self.retry_in) * 1000))
        return (self.outcome, "1" if self.final else "0", due, *self.summary.encode())

    @classmethod
    def decode(cls, values: tuple[Any, ...], now: float) -> Result:
        if len(values) != 8:
            raise SerializationError("malformed attempt result", raw=repr(values).encode())
        outcome, final, due, *summary = values
        retry_in = None if not as_text(due) else int(as_text(due)) / 1000 - now
        return cls(bytes(outcome), as_text(final) == "1", retry_in,
                   summary=Summary.decode(tuple(summary)))  # fmt: skip


FLOW_CALL_VERSION = 2  # of the flow call's fields inside the envelope


@dataclass(frozen=True, slots=True)
class FlowCall:
    """The call of an enqueued flow run: the flow, its arguments and its task runs' queue."""

    flow: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    queue: str

    def encode(self, secret: bytes | None) -> bytes:
        fields = (FLOW_CALL_VERSION, self.flow, self.args, self.kwargs, self.queue)
        what = f"flow {self.flow.name!r} with its arguments"
        return serialization.dumps(fields, secret, what=what, with_sources=True)

    @classmethod
    def decode(cls, raw: bytes, secret: bytes | None, run_id: str | None = None) -> FlowCall:
        try:
            fields = serialization.loads(raw, secret)
        except SerializationError as error:
            cause = error.__cause__
            reason = f"{type(cause).__name__}: {cause}" if cause is not None else error.message
            message = (
                f"cannot decode the flow call on this worker ({reason}); can it import "
                "everything the flow's module imports (PYTHONPATH)?"
            )
            raise SerializationError(message, raw=raw, run_id=run_id) from cause or error
        if not isinstance(fields, tuple) or len(fields) != 5 or fields[0] != FLOW_CALL_VERSION:
            message = "malformed flow call (or of another floq version)"
            raise SerializationError(message, raw=raw, run_id=run_id)
        _, flow, args, kwargs, queue = fields
        return cls(flow, args, kwargs, queue)
