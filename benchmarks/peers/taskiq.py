"""taskiq with taskiq-redis: `RedisStreamBroker` + `RedisAsyncResultBackend`.

Workers: `taskiq worker peers.taskiq:broker --workers 2 --max-async-tasks N` (taskiq's own
process manager with 2 worker processes, its default count; N per workload: `MAX_ASYNC`),
`--log-level WARNING` (no per-task lines, as for every peer). The stream broker is the one
taskiq-redis recommends (consumer group, acknowledgements; the list broker loses a task whose
worker dies); everything else keeps its defaults (XREADGROUP of up to 100 messages, acked
once the result is saved). Results expire after 600 s (`result_ex_time`; taskiq-redis keeps
them forever by default).

Tasks are coroutine functions (taskiq runs plain functions in a thread pool): W3's task is
`await asyncio.sleep(...)`, W4's busy loop runs on the event loop with one task at a time.
The producer calls `await task.kiq(i)` (one XADD each), then `await t.wait_result(...)`,
which polls the result key (EXISTS, then GET) every `check_interval`: 0.2 s by default, set
to `CHECK_INTERVAL` here as for arq (at 0.2 s a W2 round trip takes 0.1-0.2 s).
"""

from __future__ import annotations

import asyncio
import os
from importlib.metadata import version
from typing import Any

from taskiq_redis import RedisAsyncResultBackend, RedisStreamBroker

from peers import common
from peers.common import (
    ENV_QUEUE,
    ENV_URL,
    PROCESSES,
    RESULT_TIMEOUT,
    AsyncPeer,
    redis_client_version,
    venv_bin,
)

MAX_ASYNC = {"W1": 16, "W2": 16, "W3": 128, "W4": 1}  # tasks at once per worker process
CHECK_INTERVAL = 0.01  # seconds, wait_result (taskiq's default: 0.2)
RESULT_TTL = 600  # seconds

_URL = os.environ.get(ENV_URL, "redis://127.0.0.1:1/0")  # set by the driver (and so workers)
broker = RedisStreamBroker(_URL, queue_name=os.environ.get(ENV_QUEUE, "bench"))
broker = broker.with_result_backend(RedisAsyncResultBackend(_URL, result_ex_time=RESULT_TTL))


@broker.task(task_name="noop")
async def noop(i: int) -> int:
    return i


@broker.task(task_name="nap")
async def nap(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


@broker.task(task_name="spin")
async def spin(iterations: int) -> list[float]:
    return common.spin(iterations)


@broker.task(task_name="whoami")
async def whoami(delay: float) -> int:
    await asyncio.sleep(delay)
    return os.getpid()


TASKS = {"noop": noop, "nap": nap, "spin": spin, "whoami": whoami}


async def _result(handle: Any) -> Any:
    done = await handle.wait_result(check_interval=CHECK_INTERVAL, timeout=RESULT_TIMEOUT)
    if done.is_err:
        raise RuntimeError(f"taskiq task {handle.task_id} failed: {done.error!r}")
    return done.return_value


class Driver(AsyncPeer):
    def slots(self) -> int:
        return MAX_ASYNC[self.job.workload]

    def config(self) -> str:
        return (
            f"`taskiq worker peers.taskiq:broker --workers {PROCESSES} "
            f"--max-async-tasks {self.slots()}` (RedisStreamBroker); "
            f"wait_result check_interval={CHECK_INTERVAL} s"
        )

    def version(self) -> str:
        return (
            f"taskiq {version('taskiq')}, taskiq-redis {version('taskiq-redis')}, "
            f"{redis_client_version()}"
        )

    def start(self) -> None:
        self.loop = asyncio.new_event_loop()
        # Creates the consumer group before anything is sent (it reads from "$": new only).
        self.loop.run_until_complete(broker.startup())
        argv = [
            venv_bin("taskiq"),
            "worker",
            "peers.taskiq:broker",
            "--workers",
            str(PROCESSES),
            "--max-async-tasks",
            str(self.slots()),
            "--log-level",
            "WARNING",
        ]
        self.procs.start("taskiq", argv)

    async def _many(self, fn: str, args: list[Any]) -> list[Any]:
        handles = [await TASKS[fn].kiq(arg) for arg in args]
        return [await _result(handle) for handle in handles]

    async def _call(self, fn: str, arg: Any) -> Any:
        return await _result(await TASKS[fn].kiq(arg))

    def close(self) -> None:
        if hasattr(self, "loop"):
            self.loop.run_until_complete(broker.shutdown())
            self.loop.close()
