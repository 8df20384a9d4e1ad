"""Kept results: what a crashed attempt of an enqueued flow run had completed, for its retry.

``{ns}:f:<fr>:kept`` is a hash from a call key (see :mod:`floq.worker.resume`) to the encoded
result; it expires with the flow run's other keys. A retried attempt that reuses one records
a task-run row for it (state Cached, "reused from attempt N"), so that ``floq inspect`` and
the flow run's counts show it like any other task run.
"""

from __future__ import annotations

from typing import Any

from floq.store.keys import Keys
from floq.store.protocol.fields import RunField, TaskField, as_text


class KeptResults:
    """The kept results of the flow runs of one namespace."""

    def __init__(self, client: Any, keys: Keys, ttl: int) -> None:
        self.client, self.keys, self.ttl = client, keys, ttl

    def load(self, flow_run_id: str) -> dict[str, bytes]:
        """Every result kept for the flow run, by call key."""
        raw = self.client.hgetall(self.keys.kept(flow_run_id))
        return {as_text(key): value for key, value in raw.items()}

    def keep(self, flow_run_id: str, results: dict[str, bytes]) -> None:
        """Keep ``results`` (call key -> encoded result) for a later attempt."""
        if not results:
            return
        key = self.keys.kept(flow_run_id)
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(key, mapping=results)
        pipe.expire(key, self.ttl)
        pipe.execute()

    def record_reused(self, flow_run_id: str, rows: list[tuple[str, str, str]]) -> None:
        """Record task runs reused from an earlier attempt: (task run id, name, message)."""
        if not rows:
            return
        pipe = self.client.pipeline(transaction=False)
        index, run = self.keys.task_index(flow_run_id), self.keys.run(flow_run_id)
        for task_run_id, name, message in rows:
            key = self.keys.task(flow_run_id, task_run_id)
            pipe.hset(key, mapping={
                TaskField.FLOW_RUN: flow_run_id, TaskField.ID: task_run_id,
                TaskField.NAME: name, TaskField.STATE: "Cached", TaskField.FINAL: "1",
                TaskField.MESSAGE: message, TaskField.ENTRY: "",
            })  # fmt: skip
            pipe.expire(key, self.ttl)
            pipe.rpush(index, task_run_id)
        for count in ("SUBMITTED", "COMPLETED"):
            pipe.hincrby(run, f"{RunField.COUNT_PREFIX}{count}", len(rows))
        pipe.expire(index, self.ttl)
        pipe.execute()
