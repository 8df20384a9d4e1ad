"""Writing outcomes back: ``complete.lua`` in pipelines, from a thread of its own, in batches of
all that finished while the last batch was in flight.

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
from typing import Any

import redis

from floq.store.keys import GROUP, Keys
from floq.store.scripts import Scripts
from floq.worker.attempt import Claim, Result

logger = logging.getLogger("floq.worker")

DEAD_LETTERS_KEPT = 10_000  # per queue; the oldest go first
_BATCH = 500

Item = tuple[Claim, Result]


class Completer:
    def __init__(
        self, scripts: Scripts, keys: Keys, config: Any, written: Callable[[list[Claim]], None]
    ) -> None:
        self._scripts, self._keys, self._config = scripts, keys, config
        self._written = written  # called with the claims of every batch, written or not
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
            accepted = self._execute(self._build(items), len(items))
            for (claim, _), ok in zip(items, accepted, strict=True):
                if not ok:
                    logger.warning("refused a late outcome of task run %s", claim.task_run_id)
        except Exception:
            logger.exception("could not write %d outcome(s) back", len(items))
        finally:
            self._written([claim for claim, _ in items])

    def _build(self, items: list[Item]) -> Callable[[Any], None]:
        keys, config = self._keys, self._config
        args: list[Any] = [GROUP, config.name, keys.queue_prefix, config.settings.result_ttl]
        for claim, result in items:
            due = "" if result.retry_in is None else int((time.time() + result.retry_in) * 1000)
            args += (
                claim.queue, claim.entry_id, claim.flow_run_id, keys.flow_prefix(claim.flow_run_id),
                claim.task_run_id, result.outcome, "1" if result.final else "0", due,
                *result.summary,
            )  # fmt: skip

        def build(pipe: Any) -> None:
            for claim, result in items:
                if result.dead_letter is not None:
                    pipe.xadd(keys.dead(claim.queue), {
                        "f": claim.flow_run_id, "t": claim.task_run_id, "entry": claim.entry_id,
                        "reason": result.dead_letter, "payload": claim.payload,
                    }, maxlen=DEAD_LETTERS_KEPT)  # fmt: skip
            self._scripts.call(pipe, "complete", [keys.retries], args)

        return build

    def _execute(self, build: Callable[[Any], None], count: int) -> list[int]:
        """Run the completion pipeline, retrying while Redis is unreachable (up to ~30 s)."""
        delay, deadline = 0.1, time.monotonic() + 30
        while True:
            try:
                return list(self._scripts.execute(build)[-1])
            except redis.ConnectionError as error:
                if time.monotonic() > deadline:
                    raise
                logger.warning(
                    "Redis unreachable writing %d outcome(s), retrying: %s", count, error
                )
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
