"""Which live workers serve a queue, and the hint given when none does.

An app whose runs stay Pending is most often on another server or namespace than its
workers (no ``FLOQ_REDIS_URL`` here, say): ``FlowRun.wait`` and ``RedisTaskRunner`` say so.
"""

from __future__ import annotations

from typing import Any

from floq.store.connection import redacted
from floq.store.keys import Keys
from floq.store.workers import live_workers


def workers_serving(client: Any, keys: Keys, queue: str) -> list[dict[str, Any]]:
    """The live workers (fresh heartbeat) that serve ``queue``."""
    return [w for w in live_workers(client, keys) if queue in w.get("queues", ())]


def no_worker_hint(client: Any, keys: Keys, queue: str, url: str, *, flow_runs: bool) -> str:
    """Why nothing runs on ``queue``: '' if a live worker serves it (with a flow slot, for
    ``flow_runs``), else a message naming the queue and the server."""
    serving = workers_serving(client, keys, queue)
    able = [w for w in serving if w.get("flow_slots", 0) > 0] if flow_runs else serving
    if able:
        return ""
    hint = f"no live worker serves queue {queue!r} on {redacted(url)}"
    if serving:  # only workers with --flow-slots 0
        names = ", ".join(str(w.get("name")) for w in serving)
        return f"{hint} with a flow slot ({names} run task runs only: --flow-slots 0)"
    start = "flow-worker --redis URL --queue " + queue
    return f"{hint} (namespace {keys.ns!r}; start one: {start})"
