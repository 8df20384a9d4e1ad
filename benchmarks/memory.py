"""Memory: Redis bytes per queued and per finished task run, and a worker's RSS over a soak.

Both parts use a private ``redis-server`` (no persistence) on a free loopback port, started
and stopped here, and real ``flow-worker`` processes.

* ``redis``: a flow submits N no-op task runs (``RedisTaskRunner``) while no worker runs;
  once all N are queued, ``used_memory`` (INFO memory) minus the figure before the flow, over
  N, is the cost of a queued task run. A worker then runs them; once the flow has its results,
  the same over N is the cost of a finished task run (its record and outcome, kept for
  ``FLOQ_RESULT_TTL``).
* ``soak``: one worker runs flows of ``--batch`` no-op task runs until ``--soak`` task runs
  are done; its RSS (``/proc/<pid>/status`` VmRSS) at start, after the first ``--warm-up``
  task runs, and at the end, with the highest seen after the warm-up.

    python benchmarks/memory.py [--tasks 100000] [--soak 200000] [--batch 10000]
        [--warm-up 20000] [--skip-redis] [--skip-soak] [--json PATH]
        [--hash-max-listpack-value BYTES]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from floq import flow, task
from floq.runners import RedisTaskRunner
from floq.store import embedded
from floq.store.keys import Keys

NAMESPACE = "mem"
WORKER = [sys.executable, "-c", "from floq.cli import flow_worker_cli; flow_worker_cli()"]


@task
def noop(i: int) -> int:
    return i


@contextmanager
def private_server(folder: Path, *extra: str) -> Iterator[str]:
    """A redis-server of our own, without persistence (``extra``: more of its options); its URL."""
    port = embedded.free_port()
    binary = shutil.which("redis-server") or embedded.binary()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
            "no", "--dir", str(folder), *extra]  # fmt: skip
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        if not embedded.wait_ready(url, timeout=15):
            raise SystemExit(f"redis-server did not start on port {port}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def worker(url: str, log: Path, *args: str, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FLOQ_")}
    environ.update(FLOQ_REDIS_URL=url, FLOQ_NAMESPACE=NAMESPACE, **env)
    with log.open("wb") as out:
        process = subprocess.Popen([*WORKER, *args], env=environ, stdout=out,
                                   stderr=subprocess.STDOUT)  # fmt: skip
        try:
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def used_memory(client: Any) -> int:
    return int(client.info("memory")["used_memory"])


def run_flow(url: str, n: int) -> list[int]:
    @flow(task_runner=RedisTaskRunner(url=url, namespace=NAMESPACE))
    def noops(count: int) -> list[int]:
        return [f.result() for f in noop.map(range(count))]

    return noops(n)


def bench_redis(n: int, folder: Path, listpack_value: int | None) -> dict[str, Any]:
    extra = () if listpack_value is None else ("--hash-max-listpack-value", str(listpack_value))
    with private_server(folder, *extra) as url:
        client = redis.Redis.from_url(url)
        queue = Keys(NAMESPACE).queue("default")
        with worker(url, folder / "warm-up.log"):  # scripts, queue, group: not counted below
            run_flow(url, 10)
        before = used_memory(client)
        got: list[list[int]] = []
        flow_thread = threading.Thread(target=lambda: got.append(run_flow(url, n)))
        flow_thread.start()
        wait_for(lambda: client.xlen(queue) >= n, 600, f"{n} queued task runs")
        queued = used_memory(client)
        sample = one_task_run(client)
        record = {"record_encoding": client.object("encoding", sample).decode(),
                  "record_bytes_queued": client.memory_usage(sample)}  # fmt: skip
        with worker(url, folder / "worker.log", "--concurrency", "32"):
            flow_thread.join(timeout=1800)
        if got != [list(range(n))]:
            raise SystemExit("the flow did not return every result")
        finished = used_memory(client)
        sizes = {"payload_bytes": client.hstrlen(sample, "p"),
                 "outcome_bytes": client.hstrlen(sample, "s"),
                 "record_bytes_finished": client.memory_usage(sample)}  # fmt: skip
        client.close()
    return {
        "tasks": n, "used_memory_before": before, "used_memory_queued": queued,
        "used_memory_finished": finished, "bytes_per_queued": (queued - before) / n,
        "bytes_per_finished": (finished - before) / n, **sizes, **record,
    }  # fmt: skip


def one_task_run(client: Any) -> bytes:
    """The record (hash) key of one task run of the flow run in flight."""
    keys = Keys(NAMESPACE)
    index = next(client.scan_iter(f"{keys.flow_root}*:tasks"))
    flow_run_id = index.decode()[len(keys.flow_root) :].split(":")[0]
    return keys.task(flow_run_id, client.lindex(index, 0).decode()).encode()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit(f"no VmRSS for process {pid}")


def bench_soak(total: int, batch: int, warm_up: int, folder: Path) -> dict[str, Any]:
    samples: list[tuple[int, int]] = []  # (task runs done, RSS KiB)
    with private_server(folder) as url, worker(url, folder / "soak.log", "--concurrency", "32",
                FLOQ_RESULT_TTL="30") as process:  # fmt: skip
        client = redis.Redis.from_url(url)
        wait_for(lambda: client.scard(Keys(NAMESPACE).workers) >= 1, 60, "the worker")
        client.close()
        samples.append((0, rss_kib(process.pid)))
        done, began = 0, time.monotonic()
        while done < total:
            if run_flow(url, batch) != list(range(batch)):
                raise SystemExit("a soak flow did not return every result")
            done += batch
            samples.append((done, rss_kib(process.pid)))
        seconds = time.monotonic() - began
    after_warm_up = next(rss for n, rss in samples if n >= warm_up)
    return {
        "tasks": total, "batch": batch, "seconds": seconds, "rss_kib_start": samples[0][1],
        "warm_up_tasks": warm_up, "rss_kib_after_warm_up": after_warm_up,
        "rss_kib_end": samples[-1][1],
        "rss_kib_max_after_warm_up": max(rss for n, rss in samples if n >= warm_up),
        "samples": samples,
    }  # fmt: skip


def report(redis_figures: dict[str, Any] | None, soak: dict[str, Any] | None) -> None:
    if redis_figures:
        r = redis_figures
        print(f"Redis used_memory, {r['tasks']:,} no-op task runs:")
        print(f"  before {r['used_memory_before']:,} B, all queued {r['used_memory_queued']:,} B,"
              f" all finished {r['used_memory_finished']:,} B")  # fmt: skip
        print(f"  per queued task run:   {r['bytes_per_queued']:,.0f} B")
        print(f"  per finished task run: {r['bytes_per_finished']:,.0f} B")
        print(
            f"  one task call's payload {r['payload_bytes']:,} B (in the record and the queue"
            f" entry), its outcome {r['outcome_bytes']:,} B (in the record and the results)"
        )
        print(
            f"  one record (a {r['record_encoding']} hash): {r['record_bytes_queued']:,} B"
            f" queued, {r['record_bytes_finished']:,} B finished (MEMORY USAGE)"
        )
    if soak:
        s = soak
        print(f"worker RSS over {s['tasks']:,} task runs ({s['seconds']:.0f} s, flows of "
              f"{s['batch']:,}): start {s['rss_kib_start'] / 1024:.1f} MiB, after "
              f"{s['warm_up_tasks']:,} {s['rss_kib_after_warm_up'] / 1024:.1f} MiB, end "
              f"{s['rss_kib_end'] / 1024:.1f} MiB, max after warm-up "
              f"{s['rss_kib_max_after_warm_up'] / 1024:.1f} MiB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--soak", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--warm-up", type=int, default=20_000)
    parser.add_argument("--skip-redis", action="store_true")
    parser.add_argument("--skip-soak", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--hash-max-listpack-value", type=int, metavar="BYTES",
                        help="the server's setting (default 64), to see its effect")  # fmt: skip
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="floq-memory-") as temporary:
        folder = Path(temporary)
        figures = (
            None
            if options.skip_redis
            else bench_redis(options.tasks, folder, options.hash_max_listpack_value)
        )
        soak = None
        if not options.skip_soak:
            soak = bench_soak(options.soak, options.batch, options.warm_up, folder)
    report(figures, soak)
    if options.json:
        options.json.write_text(json.dumps({"redis": figures, "soak": soak}, indent=2))


if __name__ == "__main__":
    main()
