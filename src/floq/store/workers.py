"""The live workers of a namespace, as their heartbeats describe them (for `floq workers`)."""

from __future__ import annotations

import json
import time
from typing import Any

from floq.store.keys import Keys


def live_workers(client: Any, keys: Keys) -> list[dict[str, Any]]:
    """One dict per worker whose heartbeat has not lapsed, by name; ``seen`` is seconds ago.

    Each is the worker's last heartbeat: name, host, pid, mode, slots, queues, in flight, and
    ``flow_slot_workers``, the name and pid of each of its running flow slots (RQ workers)."""
    names = sorted(n.decode() if isinstance(n, bytes) else n for n in client.smembers(keys.workers))
    beats = client.mget([keys.worker(name) for name in names]) if names else []
    now, found = time.time(), []
    for beat in beats:
        if beat is None:
            continue  # lapsed: the reaper takes it off the set
        info = json.loads(beat)
        info["seen"] = round(max(0.0, now - float(info.get("heartbeat", now))), 1)
        found.append(info)
    return found
