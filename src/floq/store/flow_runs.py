"""The flow-run store: flow-run records, their task runs, cancelling them, and the workers.

Keys, fields and scripts are the protocol's (:mod:`floq.store.protocol`); this is the one
handle the producer and the CLI hold per server and namespace.
"""

from __future__ import annotations

from typing import Any

from floq.store.keys import Keys
from floq.store.protocol import FlowRunRecords, TaskRunProtocol, TaskRunRow, WorkerRegistry

__all__ = ["FlowRunStore", "TaskRunRow"]


class FlowRunStore(FlowRunRecords):
    """Reads and writes flow-run records on one server, in one namespace."""

    def __init__(self, client: Any, keys: Keys, ttl: int) -> None:
        super().__init__(client, keys, ttl)
        self.workers = WorkerRegistry(client, keys)
        self._protocol: TaskRunProtocol | None = None

    @property
    def protocol(self) -> TaskRunProtocol:
        if self._protocol is None:
            self._protocol = TaskRunProtocol(self.client, self.keys, self.ttl, self.scripts)
        return self._protocol

    def cancel_task_runs(self, run_id: str) -> int:
        """Cancel the flow run's unfinished task runs (see ``cancel.lua``); how many."""
        return self.protocol.cancel(run_id)
