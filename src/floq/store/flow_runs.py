"""The flow-run store: flow-run records, their task runs, cancelling them, and the workers.

Keys, fields and scripts are the protocol's (:mod:`floq.store.protocol`); this is the one
handle the producer and the CLI hold per server and namespace.
"""

from __future__ import annotations

from typing import Any

from floq.errors import ConfigurationError
from floq.store.keys import Keys
from floq.store.protocol import FlowRunRecords, TaskRunProtocol, TaskRunRow, WorkerRegistry

__all__ = ["NO_FLOW_RUN_SERVER", "FlowRunStore", "TaskRunRow", "is_cluster_client"]

NO_FLOW_RUN_SERVER = (
    "flow runs need a plain Redis server (RQ does not run on Redis Cluster): set "
    "FLOQ_FLOW_RUN_REDIS_URL to one, e.g. redis://host:6379/0; task runs stay on the cluster"
)


def is_cluster_client(client: Any) -> bool:
    from redis.cluster import RedisCluster

    return isinstance(client, RedisCluster)


class FlowRunStore(FlowRunRecords):
    """Reads and writes flow-run records on one server, in one namespace.

    ``rq_client`` is the server of RQ's flow-run queues when it is not ``client``'s: RQ needs
    one plain server, so on a Redis Cluster flow runs queue on ``FLOQ_FLOW_RUN_REDIS_URL``."""

    def __init__(self, client: Any, keys: Keys, ttl: int, rq_client: Any = None) -> None:
        super().__init__(client, keys, ttl)
        self.workers = WorkerRegistry(client, keys)
        self._protocol: TaskRunProtocol | None = None
        self._rq_client = rq_client

    @property
    def rq_or_none(self) -> Any:
        """The client of RQ's flow-run queues; None on a cluster without a flow-run server."""
        if self._rq_client is not None:
            return self._rq_client
        return None if is_cluster_client(self.client) else self.client

    @property
    def rq(self) -> Any:
        """The client of RQ's flow-run queues; ConfigurationError if there is none."""
        client = self.rq_or_none
        if client is None:
            raise ConfigurationError(NO_FLOW_RUN_SERVER)
        return client

    @property
    def protocol(self) -> TaskRunProtocol:
        if self._protocol is None:
            self._protocol = TaskRunProtocol(self.client, self.keys, self.ttl, self.scripts)
        return self._protocol

    def cancel_task_runs(self, run_id: str) -> int:
        """Cancel the flow run's unfinished task runs (see ``cancel.lua``); how many."""
        return self.protocol.cancel(run_id)
