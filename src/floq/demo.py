"""``floq demo``: a flow whose task runs go through Redis to two local flow-workers.

With no ``FLOQ_REDIS_URL`` set this uses the embedded server, so it runs on a fresh install.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import redis

from floq.flows import flow
from floq.runners.redis import RedisTaskRunner
from floq.settings import Settings
from floq.store.embedded import redis_url_or_embedded
from floq.store.keys import Keys
from floq.store.protocol import WorkerRegistry
from floq.tasks import task

DEMO_QUEUE = "floq-demo"


@task(retries=1)
def square(x: int) -> tuple[int, int]:
    time.sleep(0.05)
    return x * x, os.getpid()


@task
def total(parts: list[Any]) -> int:  # futures of (value, pid) pairs, resolved before the call
    return sum(value for value, _ in parts)


def start_workers(url: str, count: int) -> list[subprocess.Popen[bytes]]:
    command = [sys.executable, "-c", "from floq.cli import flow_worker_cli; flow_worker_cli()"]
    env = {**os.environ, "FLOQ_REDIS_URL": url}
    return [
        subprocess.Popen(
            [*command, "--queue", DEMO_QUEUE, "--concurrency", "4", "--flow-slots", "0"], env=env
        )
        for _ in range(count)
    ]


def wait_for_workers(url: str, settings: Settings, count: int, timeout: float = 30.0) -> None:
    client: Any = redis.Redis.from_url(url)
    registry = WorkerRegistry(client, Keys(settings.namespace))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(registry.live()) >= count:
            return
        time.sleep(0.1)
    raise TimeoutError(f"the demo's {count} workers did not start within {timeout} s")


def run_demo(numbers: int = 20) -> str:
    settings = Settings.from_env()
    url = redis_url_or_embedded(settings)
    workers = start_workers(url, 2)
    try:
        wait_for_workers(url, settings, 2)

        @flow(name="demo", task_runner=RedisTaskRunner(url=url, queue=DEMO_QUEUE))
        def demo(n: int) -> tuple[list[tuple[int, int]], int]:
            parts = square.map(range(n))
            return [p.result() for p in parts], total(parts)

        parts, sum_of_squares = demo(numbers)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=30)
    pids = sorted({pid for _, pid in parts})
    return (
        f"squares: {[value for value, _ in parts]}\n"
        f"sum: {sum_of_squares}\n"
        f"ran on {len(pids)} worker process(es) {pids}, not here (pid {os.getpid()})"
    )
