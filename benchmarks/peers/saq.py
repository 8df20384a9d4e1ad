"""saq (asyncio, Redis): 2 `saq peers.saq.settings` processes, `concurrency` per workload.

Tasks are coroutine functions, as saq's docs write them (saq would run a plain function in
a thread pool): W3's task is `await asyncio.sleep(...)`, W4's busy loop runs on the event
loop with `concurrency=1`. A worker takes jobs with a blocking BLMOVE (no polling).

The producer waits the way saq's docs show: `Queue.map` for the batches and `Queue.apply`
for W2. Both poll the job keys (one MGET) every `poll_interval`, 0.5 s by default; it is set
to `POLL_INTERVAL` here, as for arq, since at 0.5 s every W2 round trip takes about half a
second. `Queue.map` sleeps `poll_interval` after every check, the last one too, so a round
trip takes at least two intervals (about 20 ms here). The driver sends nothing before both
workers have registered (see `_started`). (`Job.refresh(until_complete=...)` listens on
pub/sub instead, but its subscription is made after the job's state is read, so a job that
finishes in between is only noticed at the timeout.) Jobs keep saq's defaults (one
attempt, results kept 600 s); `Queue.map` gives each job the wait's timeout. Per-job INFO
logging is off (saq's CLI logs at WARNING).
"""

from __future__ import annotations

import asyncio
import os
import time
from importlib.metadata import version
from typing import Any

from saq import Queue

from peers import common
from peers.common import (
    ENV_QUEUE,
    ENV_SLOTS,
    ENV_URL,
    PROCESSES,
    READY_TIMEOUT,
    RESULT_TIMEOUT,
    AsyncPeer,
    redis_client_version,
    venv_bin,
)

CONCURRENCY = {"W1": 16, "W2": 16, "W3": 128, "W4": 1}  # jobs at once per worker process
POLL_INTERVAL = 0.01  # seconds, Queue.map / Queue.apply (saq's default: 0.5)


async def noop(ctx: dict[str, Any], *, i: int) -> int:
    return i


async def nap(ctx: dict[str, Any], *, i: float) -> float:
    await asyncio.sleep(i)
    return i


async def spin(ctx: dict[str, Any], *, i: int) -> list[float]:
    return common.spin(i)


async def whoami(ctx: dict[str, Any], *, i: float) -> int:
    await asyncio.sleep(i)
    return os.getpid()


def _queue(url: str, name: str) -> Queue:
    return Queue.from_url(url, name=name)


# Read by `saq peers.saq.settings` in each worker process.
settings = {
    "queue": _queue(
        os.environ.get(ENV_URL, "redis://127.0.0.1:1/0"), os.environ.get(ENV_QUEUE, "bench")
    ),
    "functions": [noop, nap, spin, whoami],
    "concurrency": int(os.environ.get(ENV_SLOTS, "10")),
}


class Driver(AsyncPeer):
    def slots(self) -> int:
        return CONCURRENCY[self.job.workload]

    def config(self) -> str:
        return (
            f"{PROCESSES} x `saq peers.saq.settings`, concurrency={self.slots()}; "
            f"Queue.map / Queue.apply, poll_interval={POLL_INTERVAL} s"
        )

    def version(self) -> str:
        return f"saq {version('saq')}, {redis_client_version()}"

    def start(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.queue = _queue(self.job.url, self.job.queue)
        self.loop.run_until_complete(self.queue.connect())
        for k in range(PROCESSES):
            argv = [venv_bin("saq"), "peers.saq.settings"]
            self.procs.start(f"saq-{k}", argv, env={ENV_SLOTS: str(self.slots())})
        self.loop.run_until_complete(self._started())

    async def _started(self) -> None:
        """Wait until both workers are up and have run their start-up sweep.

        A worker's first sweep aborts every job on the active list whose state is not yet
        "active", which includes a job that the other worker has just taken: jobs sent
        before both workers are up can end "swept" (seen here during warm-up).
        """
        deadline = time.monotonic() + READY_TIMEOUT
        while len((await self.queue.info())["workers"]) < PROCESSES:
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {PROCESSES} saq workers registered")
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # the sweep and the worker info are written together

    async def _many(self, fn: str, args: list[Any]) -> list[Any]:
        kwargs = [{"i": arg} for arg in args]
        return await self.queue.map(fn, kwargs, timeout=RESULT_TIMEOUT, poll_interval=POLL_INTERVAL)

    async def _call(self, fn: str, arg: Any) -> Any:
        return await self.queue.apply(
            fn, timeout=RESULT_TIMEOUT, poll_interval=POLL_INTERVAL, i=arg
        )

    def close(self) -> None:
        if hasattr(self, "queue"):
            self.loop.run_until_complete(self.queue.disconnect())
            self.loop.close()
