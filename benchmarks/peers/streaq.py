"""streaQ (asyncio, Redis streams, coredis): 2 `streaq run peers.streaq:worker` processes.

Tasks are coroutine functions (streaq would run a plain function in a thread): W3's task is
`await asyncio.sleep(...)`, W4's busy loop runs on the event loop with `concurrency=1`.
Worker: `Worker(concurrency=N)` per workload, streaq's default prefetch (as many again as
`concurrency`), pickle serializer. Tasks: `max_tries=1` (one attempt, as for every peer;
streaq's default is 3), `silent=True` (no per-task INFO lines, as for every peer), results
kept 5 minutes (streaq's default `ttl`).

The producer enters `async with worker` (a client only: it runs no tasks) and sends a batch
with `worker.enqueue_many([...])` (one pipeline, as streaq's docs advise for many tasks) or
one task with `await task.enqueue(i)` (W2); it waits with `await task.result(timeout)`, which
reads the result key after subscribing to the task's channel (no polling). Each such wait
costs at least 0.1 s, however fast the task: leaving a pub/sub context in coredis 6.9 (the
only version streaq 7.2 accepts) drains the connection for its `unsubscription_timeout`,
0.1 s, which streaq does not set. So W2's round trips take about 0.1 s, and for the batches
the producer awaits up to `WAITS` results at once (`asyncio.gather` behind a semaphore; each
wait holds a pooled connection, so the pool is raised from coredis's 64 to 2 x `WAITS`:
unbounded, the waits take every connection and the GETs inside them then wait forever).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from importlib.metadata import version
from typing import Any

from streaq import Worker

from peers import common
from peers.common import (
    ENV_QUEUE,
    ENV_SLOTS,
    ENV_URL,
    PROCESSES,
    RESULT_TIMEOUT,
    AsyncPeer,
    venv_bin,
)

CONCURRENCY = {"W1": 16, "W2": 16, "W3": 128, "W4": 1}  # tasks at once per worker process
WAITS = 128  # results awaited at once by the producer (each holds a pub/sub connection)

worker = Worker(
    redis_url=os.environ.get(ENV_URL, "redis://127.0.0.1:1/0"),
    queue_name=os.environ.get(ENV_QUEUE, "bench"),
    concurrency=int(os.environ.get(ENV_SLOTS, "16")),
    redis_kwargs={"max_connections": 2 * WAITS},  # coredis's default pool: 64
)
_task = worker.task(max_tries=1, silent=True)


@_task
async def noop(i: int) -> int:
    return i


@_task
async def nap(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


@_task
async def spin(iterations: int) -> list[float]:
    return common.spin(iterations)


@_task
async def whoami(delay: float) -> int:
    await asyncio.sleep(delay)
    return os.getpid()


TASKS = {"noop": noop, "nap": nap, "spin": spin, "whoami": whoami}


async def _result(task: Any, limit: asyncio.Semaphore | None = None) -> Any:
    async with limit or contextlib.nullcontext():
        done = await task.result(timeout=RESULT_TIMEOUT)
    return done.result  # raises for a failed task


class Driver(AsyncPeer):
    def slots(self) -> int:
        return CONCURRENCY[self.job.workload]

    def config(self) -> str:
        return f"{PROCESSES} x `streaq run peers.streaq:worker`, concurrency={self.slots()}"

    def version(self) -> str:
        return f"streaq {version('streaq')}, coredis {version('coredis')}"

    async def _connected(self) -> None:
        """Hold `async with worker` open in one task (coredis enters and leaves its pool in
        the same context), until `close`."""
        self.closing = asyncio.Event()
        entered = asyncio.Event()

        async def hold() -> None:
            async with worker:
                entered.set()
                await self.closing.wait()

        self.holder = asyncio.create_task(hold())
        await asyncio.wait([self.holder, asyncio.create_task(entered.wait())], timeout=30,
                           return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        if not entered.is_set():
            raise RuntimeError(f"streaq's client did not connect: {self.holder!r}")

    def start(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self._connected())
        for k in range(PROCESSES):
            argv = [venv_bin("streaq"), "run", "peers.streaq:worker"]
            self.procs.start(f"streaq-{k}", argv, env={ENV_SLOTS: str(self.slots())})

    async def _many(self, fn: str, args: list[Any]) -> list[Any]:
        tasks = [TASKS[fn].enqueue(arg) for arg in args]
        await worker.enqueue_many(tasks)
        limit = asyncio.Semaphore(WAITS)
        return list(await asyncio.gather(*(_result(task, limit) for task in tasks)))

    async def _call(self, fn: str, arg: Any) -> Any:
        return await _result(await TASKS[fn].enqueue(arg))

    def close(self) -> None:
        if hasattr(self, "holder"):
            self.closing.set()
            self.loop.run_until_complete(self.holder)
            self.loop.close()
