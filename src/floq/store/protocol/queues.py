"""What waits on each task-run queue, for `floq queues`."""

from __future__ import annotations

from typing import Any

import redis

from floq.store.keys import GROUP, Keys
from floq.store.protocol.fields import TaskField, as_text


def stream_queues(client: Any, keys: Keys) -> set[str]:
    """The queues with a task-run stream in this namespace."""
    prefix = keys.queue_prefix
    return {as_text(k)[len(prefix) :] for k in client.scan_iter(f"{prefix}*")}


def delayed_by_queue(client: Any, keys: Keys) -> dict[str, int]:
    """Task runs waiting for a retry, per queue."""
    tasks = client.zrange(keys.retries, 0, -1)
    pipe = client.pipeline(transaction=False)
    for task in tasks:
        pipe.hget(task, TaskField.QUEUE)
    counts: dict[str, int] = {}
    for queue in pipe.execute() if tasks else []:
        if queue is not None:
            counts[as_text(queue)] = counts.get(as_text(queue), 0) + 1
    return counts


def stream_counts(client: Any, keys: Keys, queue: str) -> dict[str, int]:
    """Task runs waiting (``depth``) and claimed on ``queue``, and its dead letters."""
    stream = keys.queue(queue)
    try:
        claimed = int(client.xpending(stream, GROUP)["pending"])
    except redis.ResponseError:  # no stream, or no group yet
        claimed = 0
    depth = max(0, int(client.xlen(stream)) - claimed)
    return {"depth": depth, "claimed": claimed, "dead": int(client.xlen(keys.dead(queue)))}


def oldest_waiting_age(client: Any, keys: Keys, queue: str, now: float) -> float | None:
    """Seconds the oldest task run not yet claimed on ``queue`` has waited (its entry id is its
    submission time, in ms); None when none waits."""
    stream = keys.queue(queue)
    try:
        groups = client.xinfo_groups(stream)
    except redis.ResponseError:  # no stream yet
        return None
    last = next((g["last-delivered-id"] for g in groups if as_text(g["name"]) == GROUP), b"0-0")
    waiting = client.xrange(stream, f"({as_text(last)}", "+", count=1)
    if not waiting:
        return None
    submitted = int(as_text(waiting[0][0]).split("-")[0]) / 1000
    return max(0.0, now - submitted)
