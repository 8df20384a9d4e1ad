"""Flow-run records: the state of enqueued flow runs and what their task runs did.

A flow run's record is the hash ``ns:{<id>}:run``: its flow, queue, parameters, timestamps and
state (written through ``flow_state.lua``, which never moves a run out of a final state), its
encoded final state (``outcome``) and counts of its task runs by state type (``n:COMPLETED``
...), kept by the task-run protocol scripts. ``ns:runs`` indexes enqueued runs by creation time;
the indexes per state type (kept by ``flow_state.lua``), per flow and per queue do too, for the
dashboard's pages (:mod:`floq.store.protocol.browse`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from floq import serialization
from floq.states import FINAL_TYPES, State, StateType
from floq.store.keys import GROUP, Keys
from floq.store.protocol.fields import RunField, TaskField, as_text
from floq.store.protocol.scripts import Scripts

_ROW_FIELDS = (
    TaskField.NAME, TaskField.STATE, TaskField.ATTEMPT, TaskField.WORKER, TaskField.STARTED,
    TaskField.ENDED, TaskField.MESSAGE, TaskField.QUEUE, TaskField.REDOS, TaskField.CODE,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class TaskRunRow:
    """One task run as `floq inspect` shows it."""

    id: str
    name: str
    state: str
    attempts: int
    worker: str
    started: float | None
    ended: float | None
    message: str
    queue: str
    code: str = ""  # the content address of the task's code: the same for runs of one task

    @property
    def seconds(self) -> float | None:
        if self.started is None or self.ended is None:
            return None
        return max(0.0, self.ended - self.started)

    @classmethod
    def of(cls, task_run_id: str, values: list[Any]) -> TaskRunRow:
        """The row of the task-run hash's ``_ROW_FIELDS`` values."""
        name, state, tries, worker, started, ended, message, queue, redone, code = (
            as_text(v) if v is not None else "" for v in values
        )
        attempts = int(tries or 0) + int(redone or 0)  # retries, and redos after a lost worker
        return cls(
            task_run_id, name or task_run_id, state or "Pending", attempts, worker,
            float(started) if started else None, float(ended) if ended else None, message, queue,
            code,
        )  # fmt: skip


class FlowRunRecords:
    """Reads and writes flow-run records on one server, in one namespace."""

    def __init__(self, client: Any, keys: Keys, ttl: int) -> None:
        self.client, self.keys, self.ttl = client, keys, ttl
        self.scripts = Scripts(client)

    def create(self, run_id: str, state: State, **fields: str) -> None:
        """Index a new flow run (by time, state, flow and queue) and write its first state."""
        now = time.time()

        def build(pipe: Any) -> None:  # run again as it is if the server forgot the scripts
            indexes = [self.keys.runs, *(self.keys.state_index(t.value) for t in StateType)]
            flow, queue = fields.get("flow"), fields.get("queue")
            for index_of, name, names in (
                (self.keys.flow_index, flow, self.keys.flow_names),
                (self.keys.queue_index, queue, self.keys.queue_names),
            ):
                if name:
                    pipe.zadd(index_of(name), {run_id: now})
                    pipe.zadd(names, {name: now})
                    indexes += [index_of(name), names]
            pipe.zadd(self.keys.runs, {run_id: now})
            for index in indexes:  # records expired by now
                pipe.zremrangebyscore(index, "-inf", now - self.ttl)
            record = {"id": run_id, "created": f"{now:.6f}", **fields}
            self._transition(pipe, run_id, state, record)

        self.scripts.execute(build)

    def transition(self, run_id: str, state: State, **fields: str | bytes) -> bool:
        """Record ``state`` (and ``fields``) unless the run already ended; True if recorded."""
        return bool(self._transition(self.client, run_id, state, fields))

    def _transition(self, target: Any, run_id: str, state: State, fields: dict[str, Any]) -> Any:
        keys = [self.keys.run(run_id), self.keys.events(run_id), self.keys.state_index_prefix]
        args: list[Any] = [self.ttl, state.type.value, state.name, state.message]
        args.append(f"{state.timestamp:.6f}")
        for name, value in fields.items():
            args += (name, value)
        return self.scripts.call(target, "flow_state", keys, args)

    def reopen(self, run_id: str, state: State) -> None:
        """Move an ended run back to ``state`` (a retry): its outcome and end are dropped."""
        key = self.keys.run(run_id)

        def build(pipe: Any) -> None:  # run again as it is if the server forgot the scripts
            for ended in FINAL_TYPES:  # the script moves it from its current type's index only
                pipe.zrem(self.keys.state_index(ended.value), run_id)
            pipe.hdel(key, RunField.OUTCOME, "ended")
            pipe.hset(key, RunField.TYPE, state.type.value)  # not final: flow_state records it
            self._transition(pipe, run_id, state, {})

        self.scripts.execute(build)

    def count_attempt(self, run_id: str) -> int:
        """Count one more attempt of the flow run (an RQ retry); its number."""
        return int(self.client.hincrby(self.keys.run(run_id), RunField.ATTEMPTS, 1))

    def record(self, run_id: str) -> dict[str, bytes]:
        """The flow run's record (empty if there is none, or it expired)."""
        raw = self.client.hgetall(self.keys.run(run_id))
        return {as_text(k): v for k, v in raw.items()}

    def state(self, run_id: str, secret: bytes | None) -> State | None:
        """The flow run's recorded state: its final state once it ended; None if no record."""
        record = self.record(run_id)
        if RunField.TYPE not in record:
            return None
        if RunField.OUTCOME in record:
            state: State = serialization.loads(record[RunField.OUTCOME], secret)
            return state
        return State(
            StateType(record[RunField.TYPE].decode()),
            record.get(RunField.STATE, b"").decode(),
            record.get(RunField.MESSAGE, b"").decode(),
            float(record.get(RunField.TIMESTAMP, b"0")),
        )

    @staticmethod
    def task_counts(record: dict[str, bytes], types: tuple[str, ...]) -> dict[str, int]:
        """How many of the flow run's task runs the record counts per state type (and
        ``SUBMITTED``), by lower-case name."""
        counts = {name: record.get(f"{RunField.COUNT_PREFIX}{name}", b"") for name in types}
        return {name.lower(): int(raw.decode() or 0) for name, raw in counts.items()}

    def recent(self, limit: int) -> list[str]:
        """Ids of the most recently enqueued flow runs, newest first."""
        return [as_text(i) for i in self.client.zrevrange(self.keys.runs, 0, limit - 1)]

    def task_runs(self, run_id: str) -> list[TaskRunRow]:
        """Every task run of the flow run, in submission order.

        A task run whose queue entry a worker holds shows as Running, with that worker and
        the time it has held it: workers do not write a Running state (it would cost the hot
        path a write per claim), the consumer group's pending list already knows."""
        ids = [as_text(i) for i in self.client.lrange(self.keys.task_index(run_id), 0, -1)]
        pipe = self.client.pipeline(transaction=False)
        for task_run_id in ids:
            pipe.hmget(self.keys.task(run_id, task_run_id), (*_ROW_FIELDS, TaskField.ENTRY))
        replies = pipe.execute()
        rows = [TaskRunRow.of(i, values[:-1]) for i, values in zip(ids, replies, strict=True)]
        entries = [as_text(values[-1]) if values[-1] else "" for values in replies]
        return self._with_running(rows, entries)

    def _with_running(self, rows: list[TaskRunRow], entries: list[str]) -> list[TaskRunRow]:
        held = [(i, entry) for i, entry in enumerate(entries) if entry]
        pipe = self.client.pipeline(transaction=False)
        for i, entry in held:
            pipe.xpending_range(self.keys.queue(rows[i].queue), GROUP, entry, entry, 1)
        now = time.time()
        for (i, _), pending in zip(held, pipe.execute() if held else [], strict=True):
            if pending:
                claim = pending[0]
                started = now - claim["time_since_delivered"] / 1000
                rows[i] = replace(rows[i], state="Running", worker=as_text(claim["consumer"]),
                                  started=started, ended=None)  # fmt: skip
        return rows

    def next_event(self, run_id: str, after: str, timeout: float) -> str:
        """Block up to ``timeout`` s for a state change after event id ``after``; the last id."""
        reply = self.client.xread(
            {self.keys.events(run_id): after}, count=100, block=max(1, int(timeout * 1000))
        )
        if not reply:
            return after
        return as_text(reply[0][1][-1][0])
