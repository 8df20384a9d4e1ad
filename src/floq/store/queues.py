"""What waits on each queue: task runs (floq's streams) and flow runs (RQ), for `floq queues`."""

from __future__ import annotations

import time
from typing import Any

from rq import Queue

from floq.store.keys import Keys, rq_queue_name
from floq.store.protocol.queues import (
    delayed_by_queue,
    oldest_waiting_age,
    stream_counts,
    stream_queues,
)
from floq.store.rq_jobs import JobSerializer


def queue_names(client: Any, keys: Keys, rq_client: Any) -> list[str]:
    """Queues with a task-run stream or an RQ queue (if ``rq_client``) in this namespace."""
    names = stream_queues(client, keys)
    prefix = rq_queue_name(keys.ns, "")
    rq_queues = Queue.all(connection=rq_client) if rq_client is not None else []
    names |= {q.name[len(prefix) :] for q in rq_queues if q.name.startswith(prefix)}
    return sorted(names)


def queue_stats(client: Any, keys: Keys, rq_client: Any = None) -> list[dict[str, Any]]:
    """Per queue: task runs waiting and claimed, delayed retries, dead letters; flow runs
    queued and running in RQ on ``rq_client`` (0 without one: a cluster with no flow-run
    server)."""
    delayed = delayed_by_queue(client, keys)
    rows = []
    for name in queue_names(client, keys, rq_client):
        counts = stream_counts(client, keys, name)
        rq_queue = Queue(
            rq_queue_name(keys.ns, name), connection=rq_client or client, serializer=JobSerializer
        )
        known = rq_client is not None
        rows.append({
            "queue": name,
            "depth": counts["depth"],
            "claimed": counts["claimed"],
            "delayed": delayed.get(name, 0),
            "dead": counts["dead"],
            "oldest_age": oldest_waiting_age(client, keys, name, time.time()),
            "flow_runs_queued": rq_queue.count if known else 0,
            "flow_runs_running": rq_queue.started_job_registry.count if known else 0,
        })  # fmt: skip
    return rows
