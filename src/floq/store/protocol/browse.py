"""Reading flow runs a page at a time, their state history, dead letters and queue throughput:
what the dashboard shows.

Pages come from the indexes :class:`FlowRunRecords` keeps (by creation time: every run, and
per state type, flow and queue), so a page of the newest or the oldest of 100,000 runs costs
the same: a rank range on a sorted set and one ``HMGET`` per row. Filtering on several things
at once intersects their indexes into a scratch set that lives a few seconds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import redis

from floq.states import StateType
from floq.store.keys import Keys
from floq.store.protocol.fields import RunField, as_text

ROW_FIELDS = (
    "id", "flow", "queue", "description", "created", "started", "ended", "worker",
    RunField.TYPE, RunField.STATE, RunField.MESSAGE, RunField.ATTEMPTS,
)  # fmt: skip
TASK_COUNTS = ("SUBMITTED", "COMPLETED", "FAILED", "CRASHED", "CANCELLED")
_SCRATCH_SECONDS = 5


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Which flow runs a page lists: those in a state type, of a flow, on a queue (None: any)."""

    state: str | None = None
    flow: str | None = None
    queue: str | None = None

    def indexes(self, keys: Keys) -> list[str]:
        found = []
        if self.state:
            found.append(keys.state_index(self.state.upper()))
        if self.flow:
            found.append(keys.flow_index(self.flow))
        if self.queue:
            found.append(keys.queue_index(self.queue))
        return found or [keys.runs]


class RunBrowser:
    """Pages of flow runs, newest first, and what else the dashboard reads, in one namespace."""

    def __init__(self, client: Any, keys: Keys) -> None:
        self.client, self.keys = client, keys

    def page(self, where: RunFilter, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        """(how many runs match, the rows of ``limit`` of them from ``offset``, newest first)."""
        indexes = where.indexes(self.keys)
        pipe = self.client.pipeline(transaction=False)
        index = indexes[0]
        if len(indexes) > 1:
            index = self.keys.index_scratch(os.urandom(6).hex())
            pipe.zinterstore(index, indexes, aggregate="MIN")
            pipe.expire(index, _SCRATCH_SECONDS)
        pipe.zcard(index)
        pipe.zrevrange(index, offset, offset + limit - 1)
        if len(indexes) > 1:
            pipe.delete(index)
        replies = pipe.execute()
        total, ids = (replies[-3], replies[-2]) if len(indexes) > 1 else replies[-2:]
        return int(total), self.rows([as_text(i) for i in ids])

    def rows(self, run_ids: list[str]) -> list[dict[str, Any]]:
        """The records of these flow runs (those that expired are left out), as text."""
        counts = tuple(f"{RunField.COUNT_PREFIX}{name}" for name in TASK_COUNTS)
        pipe = self.client.pipeline(transaction=False)
        for run_id in run_ids:
            pipe.hmget(self.keys.run(run_id), (*ROW_FIELDS, *counts))
        found = []
        for run_id, values in zip(run_ids, pipe.execute() if run_ids else [], strict=True):
            if values[ROW_FIELDS.index(RunField.TYPE)] is None:
                continue  # expired
            text = ["" if v is None else as_text(v) for v in values]
            row: dict[str, Any] = dict(zip(ROW_FIELDS, text, strict=False))
            row["id"] = run_id
            tallies = zip(TASK_COUNTS, text[len(ROW_FIELDS) :], strict=True)
            row["tasks"] = {name.lower(): int(value or 0) for name, value in tallies}
            found.append(row)
        return found

    def counts(self) -> dict[str, int]:
        """How many flow runs are in each state type (those the indexes know)."""
        pipe = self.client.pipeline(transaction=False)
        for kind in StateType:
            pipe.zcard(self.keys.state_index(kind.value))
        return {kind.value: int(n) for kind, n in zip(StateType, pipe.execute(), strict=True)}

    def names(self) -> tuple[list[str], list[str]]:
        """(the flows, the queues) runs were enqueued with, most recently used first."""
        pipe = self.client.pipeline(transaction=False)
        pipe.zrevrange(self.keys.flow_names, 0, 199)
        pipe.zrevrange(self.keys.queue_names, 0, 199)
        flows, queues = pipe.execute()
        return [as_text(f) for f in flows], [as_text(q) for q in queues]

    def history(self, run_id: str) -> list[dict[str, Any]]:
        """The flow run's state changes, oldest first: when (epoch s), type, state name."""
        found = []
        for entry_id, fields in self.client.xrange(self.keys.events(run_id)):
            values = {as_text(k): as_text(v) for k, v in fields.items()}
            at = int(as_text(entry_id).split("-")[0]) / 1000
            found.append({"at": at, "type": values.get(RunField.TYPE, ""),
                          "state": values.get(RunField.STATE, "")})  # fmt: skip
        return found

    def taken(self, queues: list[str]) -> dict[str, int]:
        """Per queue, how many entries ever left its stream (added minus still there): sampled
        over time, the queue's throughput."""
        pipe = self.client.pipeline(transaction=False)
        for queue in queues:
            pipe.xinfo_stream(self.keys.queue(queue))
        found = {}
        for queue, info in zip(queues, pipe.execute(raise_on_error=False), strict=True):
            if isinstance(info, redis.ResponseError) or not isinstance(info, dict):
                continue  # no stream yet
            added = int(info.get("entries-added", info.get("entries_added", 0)) or 0)
            found[queue] = max(0, added - int(info.get("length", 0)))
        return found
