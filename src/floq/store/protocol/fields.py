"""The field names of the task-run protocol, readable in Python, short on the wire.

Each class is one table: a readable name for every field of one kind of Redis value. The
values are what the Lua scripts in ``floq/store/scripts`` use; the meaning of each is in
:mod:`floq.store.protocol` (the module docstring). Short names keep the hot path's hashes and
stream entries small. No other module spells these names.
"""

from __future__ import annotations

from typing import Any, Final


class TaskField:
    """The hash of one task run, ``ns:{<flow run>}:t:<task run>``."""

    FLOW_RUN: Final = "r"  # the flow run's id
    ID: Final = "i"  # the task run's id
    PAYLOAD: Final = "p"  # the encoded call (CallRecord)
    QUEUE: Final = "q"  # the queue it runs on
    UPSTREAM: Final = "u"  # upstream task run ids, comma-separated
    WAITING: Final = "w"  # how many upstreams are unfinished
    ATTEMPT: Final = "n"  # the attempt number (1, then +1 per scheduled retry)
    CODE: Final = "c"  # the content address of the task's code
    ENTRY: Final = "e"  # the current queue entry: the attempt's fencing token ('' if none)
    NAME: Final = "nm"  # the task run's name
    STATE: Final = "st"  # the state name (Pending, Completed, AwaitingRetry, Cancelled ...)
    OUTCOME: Final = "s"  # the last attempt's encoded outcome (state, history, run count)
    FINAL: Final = "f"  # '1' once the run ended
    WORKER: Final = "k"  # the worker that wrote the last outcome
    MESSAGE: Final = "m"  # the state's message, shortened
    STARTED: Final = "a"  # when the last attempt started (epoch s)
    ENDED: Final = "z"  # when the last attempt ended (epoch s)
    CANCELLED: Final = "x"  # '1' if its flow run was cancelled
    REDOS: Final = "rc"  # attempts handed back (their worker stopped, or was lost)
    LOST: Final = "lo"  # attempts lost with their worker (at FLOQ_MAX_LOST_ATTEMPTS: Crashed)
    DEPENDENTS: Final = "d"  # '1' once a task run waits for this one (its ``d:`` set)


class EntryField:
    """An entry on a queue stream, ``ns:q:<queue>``: one claimable attempt."""

    FLOW_RUN: Final = "f"
    TASK_RUN: Final = "t"
    PAYLOAD: Final = "p"
    UPSTREAM: Final = "u"
    ATTEMPT: Final = "n"
    CODE: Final = "c"


class ResultField:
    """An entry on a flow run's result stream, ``ns:{<flow run>}:results``: the outcomes of
    one batch of ``complete.lua``, or the coordinator's stop marker."""

    OUTCOME_PREFIX: Final = "o:"  # o:<task run id> -> that run's encoded outcome
    TASK_RUN: Final = "t"  # only in a stop marker: t -> stop
    TOKEN: Final = "k"  # a stop marker's: the token of the coordinator that wrote it


class DeadField:
    """An entry on a queue's dead-letter stream, ``ns:dead:<queue>``."""

    FLOW_RUN: Final = "f"
    TASK_RUN: Final = "t"
    ENTRY: Final = "entry"
    REASON: Final = "reason"
    PAYLOAD: Final = "payload"  # a decodable entry's payload
    RAW: Final = "raw"  # a malformed entry, as its fields' repr


class RunField:
    """The record of a flow run, ``ns:{<flow run>}:run`` (and the events stream's entries).

    ``flow_state.lua`` writes the state fields; the producer and the trampoline add the
    others as keyword arguments of :meth:`FlowRunRecords.create` and ``transition``."""

    TYPE: Final = "type"  # the state type (PENDING ... CANCELLED)
    STATE: Final = "state"  # the state name
    MESSAGE: Final = "message"
    TIMESTAMP: Final = "ts"  # of the state (epoch s)
    OUTCOME: Final = "outcome"  # the encoded final State, once the run ended
    ATTEMPTS: Final = "attempts"  # RQ attempts started
    COUNT_PREFIX: Final = "n:"  # n:SUBMITTED, n:COMPLETED ...: task runs by state type
    # written by the producer and the trampoline: id, flow, queue, description, created,
    # started, ended, worker


def as_text(value: Any) -> str:
    """A reply from Redis (bytes, or already str) as str."""
    return value.decode() if isinstance(value, bytes) else str(value)
