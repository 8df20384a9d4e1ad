"""A lean thread pool: callables from one ``queue.SimpleQueue``, no future per item.

``ConcurrentTaskRunner`` already has a future per task run (its :class:`TaskFuture`);
``ThreadPoolExecutor`` would add a second one, a work item and a semaphore per call,
which measured as most of the runner's overhead on small tasks. A thread is added only
when no worker is idle, up to ``max_workers``, so a task blocked on another task's result
never starves the pool below that bound. The concurrent mode of ``flow-worker`` uses it too.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("floq.runners")

_STOP = None


class ThreadPool:
    def __init__(self, max_workers: int, name: str) -> None:
        self._max = max_workers
        self._name = name
        self._queue: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        with self._lock:
            if self._idle > 0:
                self._idle -= 1  # claimed: that idle worker takes this item
            elif self._threads < self._max:
                self._threads += 1
                threading.Thread(
                    target=self._work, name=f"{self._name}-{self._threads}", daemon=True
                ).start()
        self._queue.put((fn, args))

    def shutdown(self) -> None:
        """Let every worker finish what it has, then exit; does not wait for them."""
        with self._lock:
            count, self._threads, self._idle = self._threads, 0, 0
        for _ in range(count):
            self._queue.put(_STOP)

    def _work(self) -> None:
        get, lock = self._queue.get, self._lock
        while True:
            item = get()
            if item is _STOP:
                return
            fn, args = item
            try:
                fn(*args)
            except BaseException:
                logger.exception("uncaught error in %s", self._name)
            del item, fn, args
            with lock:
                self._idle += 1
