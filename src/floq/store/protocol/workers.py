"""Workers' heartbeats: the registry the reapers, `floq workers` and the no-worker hint read."""

from __future__ import annotations

import json
import time
from typing import Any

from floq.store.keys import Keys
from floq.store.protocol.fields import as_text

CANCELS_KEPT = 600  # a cancellation is acted on if it is at most this old (s)


class WorkerRegistry:
    """Heartbeat keys, the set of worker names, the set of served queues, cancellations."""

    def __init__(self, client: Any, keys: Keys) -> None:
        self.client, self.keys = client, keys

    def beat(self, info: dict[str, Any], ttl_ms: int) -> set[str]:
        """Refresh the heartbeat of worker ``info['name']`` serving ``info['queues']``; the
        ids of the flow runs cancelled lately (their task runs are to be interrupted)."""
        keys, pipe = self.keys, self.client.pipeline(transaction=False)
        pipe.set(keys.worker(info["name"]), json.dumps(info), px=ttl_ms)
        pipe.sadd(keys.workers, info["name"])
        pipe.sadd(keys.served, *info["queues"])
        pipe.zrangebyscore(keys.cancelled, time.time() - CANCELS_KEPT, "+inf")
        return {as_text(run_id) for run_id in pipe.execute()[-1]}

    def unregister(self, name: str) -> None:
        self.client.delete(self.keys.worker(name))
        self.client.srem(self.keys.workers, name)

    def is_live(self, name: str) -> bool:
        return bool(self.client.exists(self.keys.worker(name)))

    def forget_lapsed(self) -> None:
        """Take the workers whose heartbeat lapsed off the set of workers."""
        for name in map(as_text, self.client.smembers(self.keys.workers)):
            if not self.is_live(name):
                self.client.srem(self.keys.workers, name)

    def served_queues(self) -> set[str]:
        """The queues any worker of the namespace served (reapers walk them all)."""
        return {as_text(queue) for queue in self.client.smembers(self.keys.served)}

    def live(self) -> list[dict[str, Any]]:
        """One dict per worker whose heartbeat has not lapsed, by name; ``seen`` is seconds ago.

        Each is the worker's last heartbeat: name, host, pid, mode, slots, queues, in flight,
        and ``flow_slot_workers``, the name and pid of each of its running flow slots."""
        names = sorted(map(as_text, self.client.smembers(self.keys.workers)))
        beats = self.client.mget([self.keys.worker(name) for name in names]) if names else []
        now, found = time.time(), []
        for beat in beats:
            if beat is None:
                continue  # lapsed: the reaper takes it off the set
            info = json.loads(beat)
            info["seen"] = round(max(0.0, now - float(info.get("heartbeat", now))), 1)
            found.append(info)
        return found
