"""The live workers of a namespace, as their heartbeats describe them (for `floq workers`)."""

from __future__ import annotations

from typing import Any

from floq.store.keys import Keys
from floq.store.protocol import WorkerRegistry


def live_workers(client: Any, keys: Keys) -> list[dict[str, Any]]:
    """One dict per worker whose heartbeat has not lapsed, by name; ``seen`` is seconds ago.

    Each is the worker's last heartbeat: name, host, pid, mode, slots, queues, in flight, and
    ``flow_slot_workers``, the name and pid of each of its running flow slots (RQ workers)."""
    return WorkerRegistry(client, keys).live()
