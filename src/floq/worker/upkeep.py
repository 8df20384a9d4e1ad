"""A worker's upkeep thread: heartbeat, reaping lapsed workers, promoting due retries, and
hearing of cancelled flow runs (read with each heartbeat).

Liveness is judged by a worker's heartbeat key (refreshed here, from a thread of its own,
however busy the task threads are), never by how long an entry has been pending: a long task
on a live worker is never taken from it.

Every worker reaps on every queue of its namespace, not only on those it serves: each
heartbeat adds the worker's queues to the namespace's set of served queues, and the reaper
walks that set. So the claims of a worker killed with ``kill -9`` go back on their own queue
even when no other worker serves it; they wait there for one that does.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from floq.store.keys import GROUP, Keys
from floq.store.scripts import Scripts

logger = logging.getLogger("floq.worker")

_TICK = 0.1  # how often due retries are promoted (s)
_CANCELS_KEPT = 600  # a cancellation is acted on if it is at most this old (s)


class Upkeep:
    def __init__(self, client: Any, scripts: Scripts, keys: Keys, config: Any) -> None:
        self._client, self._scripts, self._keys, self._config = client, scripts, keys, config
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="floq-upkeep", daemon=True)
        self.inflight = 0
        self.started = time.time()
        # called with the ids of recently cancelled flow runs, once per heartbeat
        self.on_cancelled: Callable[[set[str]], None] | None = None
        # the running flow slots, name and pid each (shown by `floq workers`)
        self.flow_slots: Callable[[], list[dict[str, Any]]] = list

    def start(self) -> None:
        self.beat()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            self._client.delete(self._keys.worker(self._config.name))
            self._client.srem(self._keys.workers, self._config.name)
        except redis.RedisError:
            pass

    def beat(self) -> None:
        config = self._config
        info = {
            "name": config.name,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "mode": config.mode,
            "slots": config.capacity,
            "flow_slots": config.flow_slots,
            "flow_slot_workers": self.flow_slots(),
            "queues": list(config.queues),
            "inflight": self.inflight,
            "heartbeat": time.time(),
            "started": self.started,
        }
        ttl_ms = int(config.settings.worker_ttl * 1000)
        pipe = self._client.pipeline(transaction=False)
        pipe.set(self._keys.worker(config.name), json.dumps(info), px=ttl_ms)
        pipe.sadd(self._keys.workers, config.name)
        pipe.sadd(self._keys.served, *config.queues)
        pipe.zrangebyscore(self._keys.cancelled, time.time() - _CANCELS_KEPT, "+inf")
        cancelled = pipe.execute()[-1]
        if cancelled and self.on_cancelled is not None:
            self.on_cancelled({run_id.decode() for run_id in cancelled})

    def promote(self) -> int:
        now_ms = int(time.time() * 1000)
        keys, args = [self._keys.retries], [now_ms, 100, self._keys.queue_prefix]
        return int(self._scripts.call(self._client, "promote", keys, args))

    def reap(self) -> int:
        """Hand back the pending entries of every consumer whose heartbeat lapsed."""
        for name in map(_text, self._client.smembers(self._keys.workers)):
            if not self._client.exists(self._keys.worker(name)):
                self._client.srem(self._keys.workers, name)  # gone: off the list of workers
        served = {_text(queue) for queue in self._client.smembers(self._keys.served)}
        taken = 0
        for queue in sorted(served | set(self._config.queues)):
            stream = self._keys.queue(queue)
            try:
                consumers = self._client.xinfo_consumers(stream, GROUP)
            except redis.ResponseError:  # no such stream or group (any more)
                continue
            for consumer in consumers:
                name = _text(consumer["name"])
                if name == self._config.name or self._client.exists(self._keys.worker(name)):
                    continue
                taken += self.hand_back(stream, name)
        return taken

    def hand_back(self, stream: str, consumer: str) -> int:
        """Put ``consumer``'s pending entries of ``stream`` back as new entries."""
        total = 0
        while True:
            args = [GROUP, consumer, 1000, self._keys.ns]
            count = int(self._scripts.call(self._client, "reclaim", [stream], args))
            total += count
            if count < 1000:
                break
        if total:
            logger.warning("handed back %d task run(s) of worker %s on %s", total, consumer, stream)
        return total

    def _loop(self) -> None:
        settings = self._config.settings
        next_beat = next_reap = time.monotonic()
        while not self._stop.wait(_TICK):
            now = time.monotonic()
            try:
                self.promote()
                if now >= next_beat:
                    self.beat()
                    next_beat = now + settings.heartbeat_seconds
                if now >= next_reap:
                    self.reap()
                    next_reap = now + settings.reap_seconds
            except redis.RedisError as error:
                logger.error("upkeep: Redis error: %s", error)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
