"""The task-run protocol's one class: every read and write of task runs, queues and results.

See :mod:`floq.store.protocol` for the keys, the fields and what each script takes and returns.
Each method is one round trip (one pipeline) unless it says otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis

from floq.errors import SerializationError
from floq.store.keys import GROUP, Keys
from floq.store.protocol.fields import DeadField, ResultField, TaskField, as_text
from floq.store.protocol.records import Claim, Result, Submission
from floq.store.protocol.scripts import Scripts
from floq.store.records import CodeCache

DEAD_LETTERS_KEPT = 10_000  # per queue; the oldest go first
RECLAIM_BATCH = 1000
STOP = b"stop"  # the coordinator's own marker on its result stream: its collector ends


@dataclass(frozen=True, slots=True)
class Malformed:
    """A claimed queue entry that does not decode into a :class:`Claim`."""

    queue: str
    entry_id: bytes
    fields: dict[bytes, bytes]
    error: SerializationError

    def claim(self) -> Claim | None:
        """The claim of its run, if it names one (that run can then end Failed)."""
        return Claim.named_by(self.queue, self.entry_id, self.fields)


@dataclass(frozen=True, slots=True)
class ResultEntry:
    """One outcome on a flow run's result stream, or the stop marker (``task_run_id`` None).

    ``complete.lua`` writes one stream entry per batch: a field ``o:<task run id>`` per
    outcome; the outcomes of one entry share its ``entry_id``."""

    entry_id: bytes
    task_run_id: str | None  # None: a stop marker
    outcome: bytes  # a stop marker's: the token of the coordinator that wrote it

    @classmethod
    def decode(cls, entry_id: bytes, fields: dict[bytes, bytes]) -> list[ResultEntry]:
        if fields.get(ResultField.TASK_RUN.encode()) == STOP:
            return [cls(entry_id, None, fields.get(ResultField.TOKEN.encode(), b""))]
        prefix = ResultField.OUTCOME_PREFIX.encode()
        return [
            cls(entry_id, name[len(prefix) :].decode(), outcome)
            for name, outcome in fields.items()
            if name.startswith(prefix)
        ]


class TaskRunProtocol:
    """Submit, claim, complete, retry, hand back, dead-letter and cancel task runs."""

    def __init__(self, client: Any, keys: Keys, ttl: int, scripts: Scripts | None = None):
        self.client, self.keys, self.ttl = client, keys, ttl
        self.scripts = scripts or Scripts.of(client)

    def ensure_queue(self, queue: str) -> None:
        """Create the queue's stream and consumer group unless they exist."""
        try:
            self.client.xgroup_create(self.keys.queue(queue), GROUP, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    # --- the coordinator --------------------------------------------------------------------
    def submit(self, queue: str, submissions: list[Submission]) -> int:
        """Store new code and register these task runs of one flow run (``submit.lua``);
        how many upstreams they wait for."""
        keys, flow_run_id = self.keys, submissions[0].flow_run_id
        args: list[Any] = [keys.flow_prefix(flow_run_id), flow_run_id, queue, self.ttl]
        for submission in submissions:
            args += submission.encode()
        codes = [(s.code, s.code_raw) for s in submissions if s.code_raw is not None]

        def build(pipe: Any) -> None:
            for code, raw in codes:
                pipe.set(keys.code(code), raw, ex=self.ttl)
            self.scripts.call(pipe, "submit", [keys.queue(queue)], args)

        return int(self.scripts.execute(build)[-1])

    def read_results(
        self, reader: Any, flow_run_id: str, after: bytes | str, block_ms: int
    ) -> list[ResultEntry]:
        """The flow run's result entries after ``after`` (blocking up to ``block_ms``)."""
        stream = self.keys.results(flow_run_id)
        reply = reader.xread({stream: after}, count=1000, block=block_ms)
        return [
            result
            for _, entries in reply or ()
            for i, fields in entries
            for result in ResultEntry.decode(i, fields)
        ]

    def stop_results(self, flow_run_id: str, token: str) -> None:
        """Put a stop marker with ``token`` on the flow run's result stream: the collector
        that knows the token ends there (another attempt of the flow run reads past it)."""
        marker = {ResultField.TASK_RUN: STOP, ResultField.TOKEN: token}
        self.client.xadd(self.keys.results(flow_run_id), marker)

    # --- the worker -------------------------------------------------------------------------
    def claim(
        self, reader: Any, consumer: str, queues: Iterable[str], free: int, block_ms: int | None
    ) -> tuple[list[Claim], list[Malformed]]:
        """Up to ``free`` new entries of ``queues`` (``XREADGROUP``, blocking up to ``block_ms``
        if none is there): claims, and malformed ones (which take no slot).

        ``XREADGROUP``'s ``COUNT`` is per stream: with as many free slots as queues or more,
        each queue gets an even share of one read. With fewer, the queues are read one at a
        time, without blocking, in the order given (so the first has the first pick); if all
        are empty, one blocking read waits on them all, and an entry beyond ``free`` that it
        brought (entries that came to several queues at once) is handed back at once, unread.
        """
        names = list(queues)
        if free >= len(names):
            return self._read(reader, consumer, names, free // len(names), block_ms)
        claims: list[Claim] = []
        malformed: list[Malformed] = []
        for name in names:
            got, bad = self._read(reader, consumer, [name], free - len(claims), None)
            claims, malformed = claims + got, malformed + bad
            if len(claims) >= free:
                return claims, malformed
        if claims or malformed or not block_ms:
            return claims, malformed
        claims, malformed = self._read(reader, consumer, names, 1, block_ms)
        claims.sort(key=lambda claim: names.index(claim.queue))
        for name in names:
            extra = [c.entry_id for c in claims[free:] if c.queue == name]
            if extra:
                self.hand_back_entries(name, consumer, extra)
        return claims[:free], malformed

    def _read(
        self, reader: Any, consumer: str, names: list[str], count: int, block_ms: int | None
    ) -> tuple[list[Claim], list[Malformed]]:
        """Up to ``count`` new entries per queue of ``names``: claims, and malformed ones."""
        streams = {self.keys.queue(name): name for name in names}
        reply = reader.xreadgroup(
            GROUP, consumer, dict.fromkeys(streams, ">"), count=count, block=block_ms
        )
        claims, malformed = [], []
        for stream, entries in reply or ():
            queue = streams[stream.decode()]
            for entry_id, fields in entries:
                try:
                    claims.append(Claim.decode(queue, entry_id, fields))
                except SerializationError as error:
                    malformed.append(Malformed(queue, entry_id, fields, error))
        return claims, malformed

    def fetch_inputs(self, claims: list[Claim], codes: CodeCache) -> list[Claim]:
        """The claims with their inputs: code bytes (unless in ``codes``), upstream outcomes
        and a retry's previous outcome, fetched in one round trip (none if none is needed)."""
        pipe = self.client.pipeline(transaction=False)
        wanted: list[tuple[int, str | None]] = []
        found = {code: codes.get(code) for code in {c.code for c in claims}}  # one look each
        missing = sorted(code for code, raw in found.items() if raw is None)
        for code in missing:
            pipe.get(self.keys.code(code))
        for i, claim in enumerate(claims):
            for upstream_id in claim.upstream_ids:
                pipe.hget(self.keys.task(claim.flow_run_id, upstream_id), TaskField.OUTCOME)
                wanted.append((i, upstream_id))
            if claim.attempt > 1:
                pipe.hget(self.keys.task(claim.flow_run_id, claim.task_run_id), TaskField.OUTCOME)
                wanted.append((i, None))
        if not wanted and not missing:
            return [c.with_inputs(found[c.code]) for c in claims]
        replies = pipe.execute()
        for code, raw in zip(missing, replies, strict=False):
            if raw is not None:
                codes.put(code, raw)
                found[code] = raw
        upstream: list[dict[str, bytes | None]] = [{} for _ in claims]
        previous: list[bytes | None] = [None] * len(claims)
        for (i, run_id), value in zip(wanted, replies[len(missing) :], strict=True):
            if run_id is None:
                previous[i] = value
            else:
                upstream[i][run_id] = value
        return [
            c.with_inputs(found[c.code], upstream[i], previous[i]) for i, c in enumerate(claims)
        ]

    def complete(self, consumer: str, items: list[tuple[Claim, Result]]) -> list[bool]:
        """Record these outcomes (``complete.lua``), dead letters first; per outcome, whether
        it was recorded (False: refused, the attempt is no longer this worker's)."""
        keys, now = self.keys, time.time()
        args: list[Any] = [GROUP, consumer, keys.queue_prefix, self.ttl]
        for claim, result in items:
            args += (claim.queue, claim.entry_id, claim.flow_run_id,
                     keys.flow_prefix(claim.flow_run_id), claim.task_run_id)  # fmt: skip
            args += result.encode(now)

        def build(pipe: Any) -> None:
            for claim, result in items:
                if result.dead_letter is not None:
                    letter = {
                        DeadField.FLOW_RUN: claim.flow_run_id,
                        DeadField.TASK_RUN: claim.task_run_id,
                        DeadField.ENTRY: claim.entry_id,
                        DeadField.REASON: result.dead_letter,
                        DeadField.PAYLOAD: claim.payload,
                    }
                    pipe.xadd(keys.dead(claim.queue), letter, maxlen=DEAD_LETTERS_KEPT)
            self.scripts.call(pipe, "complete", [keys.retries], args)

        return [bool(ok) for ok in self.scripts.execute(build)[-1]]

    def dead_letter(self, malformed: Malformed) -> None:
        """Move an entry that names no run to its queue's dead letters, with the reason."""
        stream, entry_id = self.keys.queue(malformed.queue), malformed.entry_id
        letter: dict[str, Any] = {DeadField.ENTRY: entry_id, DeadField.REASON: str(malformed.error),
                                  DeadField.RAW: malformed.error.raw}  # fmt: skip
        pipe = self.client.pipeline(transaction=False)
        pipe.xadd(self.keys.dead(malformed.queue), letter, maxlen=DEAD_LETTERS_KEPT)
        pipe.xack(stream, GROUP, entry_id)
        pipe.xdel(stream, entry_id)
        pipe.execute()

    def queues_idle(self, queues: Iterable[str]) -> bool:
        """True if no entry is on these queues and no retry is due later."""
        pipe = self.client.pipeline(transaction=False)
        for queue in queues:
            pipe.xlen(self.keys.queue(queue))
        pipe.zcard(self.keys.retries)
        return not any(pipe.execute())

    # --- upkeep -----------------------------------------------------------------------------
    def promote(self, limit: int = 100) -> tuple[int, float | None]:
        """Put due retries back on their queues (``promote.lua``): how many were due, and
        when the earliest retry left is due (epoch s; None: no retry is waiting)."""
        args = [int(time.time() * 1000), limit, self.keys.queue_prefix]
        count, left = self.scripts.call(self.client, "promote", [self.keys.retries], args)
        return int(count), float(left) / 1000 if left else None

    def hand_back(self, queue: str, consumer: str) -> int:
        """Put all of ``consumer``'s pending entries of ``queue`` back as new entries (new
        attempt tokens, ``reclaim.lua``); how many. One round trip per 1000 entries."""
        return self.take_back(queue, consumer)[0]

    def take_back(
        self, queue: str, consumer: str, lost_limit: int = 0, taker: str = ""
    ) -> tuple[int, list[Claim]]:
        """:meth:`hand_back` from a lost worker: each run counts one more attempt lost with its
        worker, and one that reaches ``lost_limit`` (0: none) is not put back but moves to
        ``taker`` (the reaper), returned as a claim for it to record Crashed."""
        total, given_up = 0, []
        while True:
            reply = self._reclaim(self.client, queue, consumer, lost_limit, taker)
            total += int(reply[0])
            for entry_id, fields in reply[1]:
                values = dict(zip(fields[::2], fields[1::2], strict=True))
                given_up.append(Claim.decode(queue, entry_id, values))
            if int(reply[0]) < RECLAIM_BATCH:
                return total, given_up

    def hand_back_entries(self, queue: str, consumer: str, entry_ids: list[str]) -> int:
        """Put these entries of ``consumer``'s back as new entries, unstarted; how many."""
        returned = f"{consumer}-returned"  # they move to it, then all of its entries go back

        def build(pipe: Any) -> None:
            pipe.xclaim(self.keys.queue(queue), GROUP, returned, 0, entry_ids)
            self._reclaim(pipe, queue, returned)

        count = int(self.scripts.execute(build)[-1][0])
        return count + (self.hand_back(queue, returned) if count >= RECLAIM_BATCH else 0)

    def _reclaim(
        self, target: Any, queue: str, consumer: str, lost_limit: int = 0, taker: str = ""
    ) -> Any:
        args = [GROUP, consumer, RECLAIM_BATCH, self.keys.flow_root, lost_limit, taker]
        return self.scripts.call(target, "reclaim", [self.keys.queue(queue)], args)

    def idle_entries(self, queue: str, consumer: str, min_idle_ms: int) -> list[str]:
        """``consumer``'s pending entries of ``queue`` not delivered again for ``min_idle_ms``
        (up to 1000); none if the queue has no group (any more)."""
        try:
            found = self.client.xpending_range(
                self.keys.queue(queue), GROUP, min="-", max="+", count=RECLAIM_BATCH,
                consumername=consumer, idle=min_idle_ms,
            )  # fmt: skip
        except redis.ResponseError:
            return []
        return [as_text(entry["message_id"]) for entry in found]

    def consumers(self, queue: str) -> list[str]:
        """The consumers (worker names) of the queue's group; none if it has no group yet."""
        try:
            found = self.client.xinfo_consumers(self.keys.queue(queue), GROUP)
        except redis.ResponseError:  # no such stream or group (any more)
            return []
        return [as_text(consumer["name"]) for consumer in found]

    # --- flow runs --------------------------------------------------------------------------
    def cancel(self, flow_run_id: str) -> int:
        """Cancel the flow run's unfinished task runs (``cancel.lua``); how many."""
        keys = [self.keys.retries, self.keys.cancelled]
        args = [self.keys.flow_prefix(flow_run_id), self.keys.queue_prefix, GROUP, flow_run_id,
                time.time()]  # fmt: skip
        return int(self.scripts.call(self.client, "cancel", keys, args))

    def run_names(self, claims: list[Claim]) -> dict[str, str]:
        """The names of these claims' task runs (``boom-2``), by task run id, where known;
        none if Redis cannot be reached (only for messages: the worker never needs them)."""
        pipe = self.client.pipeline(transaction=False)
        for claim in claims:
            pipe.hget(self.keys.task(claim.flow_run_id, claim.task_run_id), TaskField.NAME)
        try:
            names = pipe.execute()
        except redis.RedisError:
            return {}
        found = zip(claims, names, strict=True)
        return {claim.task_run_id: name.decode() for claim, name in found if name}

    def missing(self, flow_run_id: str, task_run_ids: list[str]) -> list[str]:
        """Those of the task runs whose hash is gone (expired, or lost with the server's data)."""
        if not task_run_ids:
            return []
        pipe = self.client.pipeline(transaction=False)
        for task_run_id in task_run_ids:
            pipe.exists(self.keys.task(flow_run_id, task_run_id))
        found = pipe.execute()
        return [i for i, exists in zip(task_run_ids, found, strict=True) if not exists]
