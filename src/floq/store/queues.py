"""What waits on each queue: task runs (floq's streams) and flow runs (RQ), for `floq queues`."""

from __future__ import annotations

from typing import Any

from rq import Queue

from floq.store.keys import Keys, rq_queue_name
from floq.store.protocol.queues import delayed_by_queue, stream_counts, stream_queues
from floq.store.rq_jobs import JobSerializer


def queue_names(client: Any, keys: Keys) -> list[str]:
    """Queues with a task-run stream or an RQ queue in this namespace."""
    names = stream_queues(client, keys)
    prefix = rq_queue_name(keys.ns, "")
    names |= {
        q.name[len(prefix) :] for q in Queue.all(connection=client) if q.name.startswith(prefix)
    }
    return sorted(names)


def queue_stats(client: Any, keys: Keys) -> list[dict[str, Any]]:
    """Per queue: task runs waiting and claimed, delayed retries, dead letters; flow runs
    queued and running in RQ."""
    delayed = delayed_by_queue(client, keys)
    rows = []
    for name in queue_names(client, keys):
        counts = stream_counts(client, keys, name)
        rq_queue = Queue(rq_queue_name(keys.ns, name), connection=client, serializer=JobSerializer)
        rows.append({
            "queue": name,
            "depth": counts["depth"],
            "claimed": counts["claimed"],
            "delayed": delayed.get(name, 0),
            "dead": counts["dead"],
            "flow_runs_queued": rq_queue.count,
            "flow_runs_running": rq_queue.started_job_registry.count,
        })  # fmt: skip
    return rows
