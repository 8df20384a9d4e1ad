"""What waits on each queue: task runs (floq's streams) and flow runs (RQ), for `floq queues`."""

from __future__ import annotations

from typing import Any

import redis
from rq import Queue

from floq.producer.jobs import JobSerializer, rq_queue_name
from floq.store.keys import GROUP, Keys


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def queue_names(client: Any, keys: Keys) -> list[str]:
    """Queues with a task-run stream or an RQ queue in this namespace."""
    names = {_text(k)[len(keys.queue_prefix) :] for k in client.scan_iter(f"{keys.queue_prefix}*")}
    prefix = rq_queue_name(keys.ns, "")
    names |= {
        q.name[len(prefix) :] for q in Queue.all(connection=client) if q.name.startswith(prefix)
    }
    return sorted(names)


def _claimed(client: Any, stream: str) -> int:
    try:
        return int(client.xpending(stream, GROUP)["pending"])
    except redis.ResponseError:  # no stream, or no group yet
        return 0


def _delayed_by_queue(client: Any, keys: Keys) -> dict[str, int]:
    tasks = client.zrange(keys.retries, 0, -1)
    pipe = client.pipeline(transaction=False)
    for task in tasks:
        pipe.hget(task, "q")
    counts: dict[str, int] = {}
    for queue in pipe.execute() if tasks else []:
        if queue is not None:
            counts[_text(queue)] = counts.get(_text(queue), 0) + 1
    return counts


def queue_stats(client: Any, keys: Keys) -> list[dict[str, Any]]:
    """Per queue: task runs waiting and claimed, delayed retries, dead letters; flow runs
    queued and running in RQ."""
    delayed = _delayed_by_queue(client, keys)
    rows = []
    for name in queue_names(client, keys):
        stream = keys.queue(name)
        claimed = _claimed(client, stream)
        rq_queue = Queue(rq_queue_name(keys.ns, name), connection=client, serializer=JobSerializer)
        rows.append({
            "queue": name,
            "depth": max(0, int(client.xlen(stream)) - claimed),
            "claimed": claimed,
            "delayed": delayed.get(name, 0),
            "dead": int(client.xlen(keys.dead(name))),
            "flow_runs_queued": rq_queue.count,
            "flow_runs_running": rq_queue.started_job_registry.count,
        })  # fmt: skip
    return rows
