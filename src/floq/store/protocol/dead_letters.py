"""Dead letters: the queue entries a worker refused, to see, put back or throw away.

A worker never runs an entry it cannot decode or verify (garbage bytes, a missing field, a
newer envelope, an unsigned or forged payload under ``FLOQ_SECRET``): it moves it to its
queue's dead-letter stream ``{ns}:dead:<queue>`` (at most ``DEAD_LETTERS_KEPT``, the oldest go
first) with the reason, and, if the entry names its task run, records that run Failed so the
flow that submitted it sees the failure at once. A letter's id is ``<queue>/<stream id>``,
unambiguous across queues (a stream id never holds a ``/``).

What requeue means
------------------
:meth:`DeadLetters.requeue` puts the letter's entry back on its queue, once (the letter goes
in the same step), for a worker to try again: after a ``FLOQ_SECRET`` fix, or an upgrade of
the workers that now read a newer envelope.

* A letter that names a task run is re-queued from that run's own record (the payload the
  coordinator submitted, not the refused entry's bytes) as a new delivery of the same attempt,
  under a new entry id: the new fencing token, so a late outcome of the refused delivery can
  no longer be recorded. Its record leaves Failed for Pending ("requeued from dead letter
  ...") and the new outcome replaces the Failed one: a run has one recorded result at a time,
  written by its current delivery only, as for any reclaimed attempt. Its flow run is not
  reopened: a flow that already acted on the Failed outcome (and ended, usually) keeps its
  end; ``floq retry FLOW_RUN`` runs an enqueued flow run again, reusing what it completed.
  Refused (:class:`RequeueRefused`, naming the cause) when the run's record expired, its flow
  run was cancelled, it ended otherwise than Failed (a later delivery completed it), or it
  is already queued or running under another entry: requeue never runs a task run twice.
* A letter that names no run is put back as it was refused, field for field; a worker that
  still cannot read it dead-letters it again.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass
from typing import Any

from floq.errors import FloqError, SerializationError
from floq.store.keys import Keys
from floq.store.protocol.fields import DeadField, as_text
from floq.store.protocol.scripts import Scripts

_REFUSALS = {
    "no-letter": "no such dead letter (requeued or purged already?)",
    "no-record": "the record of task run {} is gone (expired with its TTL): nothing to requeue",
    "cancelled": "task run {}'s flow run was cancelled",
    "ended": "its task run has ended {} since: requeueing would run it twice",
    "queued": "its task run is queued or running again already (entry {})",
}


class RequeueRefused(FloqError):
    """A dead letter that cannot be put back on its queue; the message says why."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One refused queue entry. ``payload`` is set for a letter that names its task run (the
    entry's payload bytes), ``raw`` for one that does not (its fields, as their repr)."""

    queue: str
    stream_id: str
    entry_id: str  # the refused entry's id on the queue ('' if the letter does not say)
    reason: str
    flow_run_id: str | None = None
    task_run_id: str | None = None
    payload: bytes | None = None
    raw: bytes | None = None

    @property
    def id(self) -> str:
        return f"{self.queue}/{self.stream_id}"

    @property
    def at(self) -> float:
        """When it was dead-lettered (epoch seconds, from its stream id)."""
        return int(self.stream_id.split("-")[0]) / 1000

    @classmethod
    def decode(cls, queue: str, stream_id: bytes | str, fields: dict[bytes, bytes]) -> DeadLetter:
        """A letter from its stream entry; a malformed one raises, with its raw fields."""
        try:
            text = {as_text(key): value for key, value in fields.items()}
            flow_run_id, task_run_id = text.get(DeadField.FLOW_RUN), text.get(DeadField.TASK_RUN)
            return cls(
                queue=queue, stream_id=as_text(stream_id),
                entry_id=as_text(text.get(DeadField.ENTRY, b"")),
                reason=as_text(text[DeadField.REASON]),
                flow_run_id=None if flow_run_id is None else as_text(flow_run_id),
                task_run_id=None if task_run_id is None else as_text(task_run_id),
                payload=text.get(DeadField.PAYLOAD), raw=text.get(DeadField.RAW),
            )  # fmt: skip
        except (KeyError, UnicodeDecodeError) as error:
            raise SerializationError(
                f"malformed dead letter {queue}/{as_text(stream_id)}: {error!r}",
                raw=repr(fields).encode(),
            ) from None

    @classmethod
    def unreadable(
        cls, queue: str, stream_id: bytes | str, error: SerializationError
    ) -> DeadLetter:
        """What a listing shows for a letter that does not decode: the error and its fields."""
        return cls(queue, as_text(stream_id), "", f"unreadable dead letter: {error}", raw=error.raw)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON: bytes as text (undecodable bytes escaped) and their size."""
        return {
            "id": self.id, "queue": self.queue, "at": self.at, "entry": self.entry_id,
            "reason": self.reason, "flow_run": self.flow_run_id, "task_run": self.task_run_id,
            "payload_bytes": None if self.payload is None else len(self.payload),
            "raw": None if self.raw is None else self.raw.decode(errors="backslashreplace"),
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Requeued:
    """A letter put back: its queue's new entry (the delivery's fencing token)."""

    letter_id: str
    queue: str
    entry_id: str
    task_run_id: str | None


def split_id(letter_id: str) -> tuple[str, str]:
    """(queue, stream id) of ``<queue>/<stream id>``; a malformed id raises, naming it."""
    queue, _, stream_id = letter_id.rpartition("/")
    number, _, sequence = stream_id.partition("-")
    if not (queue and number.isdigit() and sequence.isdigit()):
        raise FloqError(f"{letter_id!r} is not a dead letter id (<queue>/<stream id>)")
    return queue, stream_id


class DeadLetters:
    """The dead letters of one namespace: list, get, requeue, purge."""

    def __init__(self, client: Any, keys: Keys, scripts: Scripts | None = None) -> None:
        self.client, self.keys = client, keys
        self._scripts = scripts

    def queues(self) -> list[str]:
        """The queues that have dead letters, by name."""
        prefix = self.keys.dead("")
        return sorted(as_text(key)[len(prefix) :] for key in self.client.scan_iter(f"{prefix}*"))

    def count(self, queue: str) -> int:
        return int(self.client.xlen(self.keys.dead(queue)))

    def list(self, queue: str | None = None, count: int = 100) -> builtins.list[DeadLetter]:
        """The newest ``count`` letters of ``queue`` (default: of every queue), newest first."""
        found = []
        for name in [queue] if queue is not None else self.queues():
            for stream_id, fields in self.client.xrevrange(self.keys.dead(name), count=count):
                found.append(_decoded(name, stream_id, fields))
        found.sort(key=lambda letter: _order(letter.stream_id), reverse=True)
        return found[:count]

    def get(self, letter_id: str) -> DeadLetter | None:
        """The letter of this id, or None if there is none (any more)."""
        queue, stream_id = split_id(letter_id)
        found = self.client.xrange(self.keys.dead(queue), stream_id, stream_id)
        return _decoded(queue, found[0][0], found[0][1]) if found else None

    def requeue(self, letter_id: str) -> Requeued:
        """Put the letter's entry back on its queue (see the module docstring: what it means
        for its task run); raises :class:`RequeueRefused`, naming the cause, if it cannot."""
        letter = self.get(letter_id)
        if letter is None:
            raise RequeueRefused(f"dead letter {letter_id}: {_REFUSALS['no-letter']}")
        stream_keys = [self.keys.queue(letter.queue), self.keys.dead(letter.queue)]
        args = [letter.stream_id, *self._entry_args(letter)]
        scripts = self._scripts = self._scripts or Scripts(self.client)
        reply = scripts.call(self.client, "requeue", stream_keys, args)
        status, detail = as_text(reply[0]), as_text(reply[1])
        if status != "requeued":
            why = _REFUSALS[status].format(detail)
            raise RequeueRefused(f"dead letter {letter_id}: {why}", run_id=letter.task_run_id)
        return Requeued(letter_id, letter.queue, detail, letter.task_run_id)

    def _entry_args(self, letter: DeadLetter) -> builtins.list[Any]:
        if letter.flow_run_id and letter.task_run_id:
            message = f"requeued from dead letter {letter.id}"
            return ["run", self.keys.flow_prefix(letter.flow_run_id), letter.flow_run_id,
                    letter.task_run_id, message]  # fmt: skip
        fields = _raw_fields(letter)
        return ["raw", *(item for pair in fields.items() for item in pair)]

    def purge(self, queue: str | None = None) -> int:
        """Delete the letters of ``queue`` (default: of every queue); how many went."""
        names = [queue] if queue is not None else self.queues()
        if not names:
            return 0
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.xlen(self.keys.dead(name))
            pipe.delete(self.keys.dead(name))
        return sum(int(n) for n in pipe.execute()[::2])


def _decoded(queue: str, stream_id: bytes, fields: dict[bytes, bytes]) -> DeadLetter:
    try:
        return DeadLetter.decode(queue, stream_id, fields)
    except SerializationError as error:
        return DeadLetter.unreadable(queue, stream_id, error)


def _order(stream_id: str) -> tuple[int, int]:
    number, _, sequence = stream_id.partition("-")
    return int(number), int(sequence or 0)


def _raw_fields(letter: DeadLetter) -> dict[bytes, bytes]:
    """The fields of a refused entry that named no run, from its repr; raises if unreadable."""
    try:
        fields = ast.literal_eval(as_text(letter.raw or b""))
        if (
            isinstance(fields, dict)
            and fields
            and all(isinstance(k, bytes) and isinstance(v, bytes) for k, v in fields.items())
        ):
            return fields
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        pass
    raise RequeueRefused(f"dead letter {letter.id}: its entry's fields cannot be read back")
