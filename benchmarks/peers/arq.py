"""arq (asyncio): 2 `arq peers.arq.WorkerSettings` processes, `max_jobs` per workload.

arq runs only coroutine functions, so W3's task is `await asyncio.sleep(...)` (its natural
form; a blocking `time.sleep` would stall the event loop) and W4's busy loop runs on the loop.
arq's worker polls its queue (a sorted set) every `poll_delay` (default 0.5 s) and
`Job.result()` polls every 0.5 s by default; both are set to `POLL_DELAY` here, since at 0.5 s
every round trip of W2 takes about half a second. Per-job INFO logging is turned off, as for
every peer.
"""

from __future__ import annotations

import asyncio
import logging
import os
from importlib.metadata import version
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.jobs import Job as ArqJob
from arq.worker import func

from peers import common
from peers.common import (
    ENV_QUEUE,
    ENV_SLOTS,
    ENV_URL,
    PROCESSES,
    RESULT_TIMEOUT,
    Peer,
    redis_client_version,
    venv_bin,
)

MAX_JOBS = {"W1": 16, "W2": 16, "W3": 128, "W4": 1}  # per worker process
POLL_DELAY = 0.01  # seconds, worker and producer (arq's default: 0.5)


async def noop(ctx: dict[str, Any], i: int) -> int:
    return i


async def nap(ctx: dict[str, Any], seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


async def spin(ctx: dict[str, Any], iterations: int) -> list[float]:
    return common.spin(iterations)


async def whoami(ctx: dict[str, Any], delay: float) -> int:
    await asyncio.sleep(delay)
    return os.getpid()


async def _quiet(ctx: dict[str, Any]) -> None:
    logging.getLogger("arq").setLevel(logging.WARNING)


class WorkerSettings:
    functions = [func(f, name=f.__name__, max_tries=1) for f in (noop, nap, spin, whoami)]
    redis_settings = RedisSettings.from_dsn(os.environ.get(ENV_URL, "redis://127.0.0.1:1/0"))
    queue_name = os.environ.get(ENV_QUEUE, "bench")
    max_jobs = int(os.environ.get(ENV_SLOTS, "10"))
    poll_delay = POLL_DELAY
    keep_result = 600
    on_startup = _quiet


class Driver(Peer):
    def slots(self) -> int:
        return MAX_JOBS[self.job.workload]

    def config(self) -> str:
        return (
            f"{PROCESSES} x `arq peers.arq.WorkerSettings`, max_jobs={self.slots()}, "
            f"poll_delay={POLL_DELAY} s"
        )

    def version(self) -> str:
        return f"arq {version('arq')}, {redis_client_version()}"

    def start(self) -> None:
        self.loop = asyncio.new_event_loop()
        settings = RedisSettings.from_dsn(self.job.url)
        self.pool: ArqRedis = self.loop.run_until_complete(
            create_pool(settings, default_queue_name=self.job.queue)
        )
        for k in range(PROCESSES):
            argv = [venv_bin("arq"), "peers.arq.WorkerSettings"]
            self.procs.start(f"arq-{k}", argv, env={ENV_SLOTS: str(self.slots())})

    async def _submit(self, fn: str, arg: Any) -> ArqJob:
        job = await self.pool.enqueue_job(fn, arg)
        if job is None:
            raise RuntimeError("arq refused the job (duplicate id)")
        return job

    async def _wait(self, job: ArqJob) -> Any:
        return await job.result(timeout=RESULT_TIMEOUT, poll_delay=POLL_DELAY)

    async def _many(self, fn: str, args: list[Any]) -> list[Any]:
        jobs = [await self._submit(fn, arg) for arg in args]
        return [await self._wait(job) for job in jobs]

    def submit(self, fn: str, arg: Any) -> ArqJob:
        return self.loop.run_until_complete(self._submit(fn, arg))

    def wait(self, handle: Any) -> Any:
        return self.loop.run_until_complete(self._wait(handle))

    def run_many(self, fn: str, args: list[Any]) -> list[Any]:
        return self.loop.run_until_complete(self._many(fn, args))

    def close(self) -> None:
        if hasattr(self, "pool"):
            self.loop.run_until_complete(self.pool.aclose())
            self.loop.close()
