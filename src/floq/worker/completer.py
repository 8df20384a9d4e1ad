"""Writing outcomes back: :meth:`TaskRunProtocol.complete` (one pipeline per batch), from a
thread of its own, in batches of all that finished while the last batch was in flight.

An outcome that cannot be written (Redis unreachable for over ~30 s) is not acknowledged: its
entry stays pending under the worker's name, and the worker hands it back when it stops (or,
when it is gone, another worker's reaper does): at-least-once, never lost.
"""

from __future__ import annotations

import logging
import queue as queues
import threading
import time
from collections.abc import Callable

import redis

from floq.store.protocol import Claim, Result, TaskRunProtocol

logger = logging.getLogger("floq.worker")

_BATCH = 500

Item = tuple[Claim, Result]


class Completer:
    def __init__(
        self,
        protocol: TaskRunProtocol,
        consumer: str,
        written: Callable[[list[Claim]], None],
        recorded: Callable[[Claim, Result], None] | None = None,
        retry_due: Callable[[float], None] | None = None,
    ) -> None:
        self._protocol, self._consumer = protocol, consumer
        self._written = written  # called with the claims of every batch, written or not
        self._recorded = recorded  # called with each outcome Redis accepted
        self._retry_due = retry_due  # called with the delay of the batch's first retry (s)
        self._queue: queues.SimpleQueue[Item | None] = queues.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="floq-complete", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, claim: Claim, result: Result) -> None:
        """Write this outcome with the next batch."""
        self._queue.put((claim, result))

    def close(self, timeout: float) -> None:
        """Write what was put, then end the thread (waiting up to ``timeout`` seconds)."""
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < _BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            items = [item for item in batch if item is not None]
            if items:
                self.write(items)
            if None in batch:
                return

    def write(self, items: list[Item]) -> None:
        """Write these outcomes now, in this thread, in one pipeline."""
        try:
            accepted = self._complete(items)
            retry_in = float("inf")
            for (claim, result), ok in zip(items, accepted, strict=True):
                if not ok:
                    logger.warning("refused a late outcome of task run %s", claim.task_run_id)
                    continue
                if self._recorded is not None:
                    self._recorded(claim, result)
                if result.retry_in is not None:
                    retry_in = min(retry_in, result.retry_in)
            if retry_in < float("inf") and self._retry_due is not None:
                self._retry_due(retry_in)  # from now: no earlier than complete() set it
        except Exception:
            logger.exception("could not write %d outcome(s) back", len(items))
        finally:
            self._written([claim for claim, _ in items])

    def _complete(self, items: list[Item]) -> list[bool]:
        """Record the outcomes, retrying while Redis is unreachable (up to ~30 s)."""
        delay, deadline, count = 0.1, time.monotonic() + 30, len(items)
        while True:
            try:
                return self._protocol.complete(self._consumer, items)
            except redis.ConnectionError as error:
                if time.monotonic() > deadline:
                    raise
                logger.warning(
                    "Redis unreachable writing %d outcome(s), retrying: %s", count, error
                )
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
