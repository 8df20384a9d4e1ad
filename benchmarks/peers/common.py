"""What every peer driver shares: the task bodies, the workloads, worker processes.

Standard library only: this module is imported by every peer's venv and by its workers.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parents[1]
WORKLOADS = ("W1", "W2", "W3", "W4")
PROCESSES = 2  # worker processes per peer (or the peer's natural equivalent)
RESULT_TIMEOUT = 60.0  # seconds: the longest any one result may take
READY_TIMEOUT = 90.0  # seconds for both worker processes to start taking tasks
STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL for a worker
ENV_URL, ENV_QUEUE, ENV_SLOTS = "BENCH_URL", "BENCH_QUEUE", "BENCH_SLOTS"


# --- the task bodies (each peer registers them in its own way) -------------------------


def noop(i: int) -> int:
    return i


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def spin(iterations: int) -> list[float]:
    """Pure-Python CPU work; holds the GIL throughout. Calibrated by the orchestrator.

    Returns [the pid of the process that ran it, the CPU seconds its thread spent, the wall
    seconds it took]: W4's figures are built from them (`w4_figures`), so they follow the speed
    each process ran at (which drifts a lot on this VM, and differs between the two cores) and
    charge a framework for nothing but its own overhead. A list, as JSON result backends give
    it back."""
    start, wall = time.thread_time(), time.perf_counter()
    total = 0
    for i in range(iterations):
        total += i
    return [float(os.getpid()), time.thread_time() - start, time.perf_counter() - wall]


def whoami(delay: float) -> int:
    """The pid of the process that ran it (after `delay` s, so the other workers get some)."""
    time.sleep(delay)
    return os.getpid()


TASKS: dict[str, Callable[..., Any]] = {"noop": noop, "nap": nap, "spin": spin, "whoami": whoami}


@dataclass(frozen=True)
class Job:
    """One driver invocation: one workload against one server."""

    workload: str
    n: int
    url: str
    queue: str
    sleep_s: float = 0.05
    spin_iterations: int = 0
    repeat: int = 1  # timed runs; the best is kept


# --- worker processes --------------------------------------------------------------------


class WorkerDied(RuntimeError):
    pass


class Procs:
    """The worker processes of one driver run: started, watched, and always stopped.

    Workers stay in the driver's process group, so the orchestrator can end any leftover
    (a prefork child, a nanny's worker) by that group if the driver itself is killed.
    """

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.items: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.stopping = threading.Event()
        self.died: str | None = None
        self._watchdog: threading.Thread | None = None

    def start(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> None:
        with (self.logs / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            )
        self.items.append((name, proc))
        if self._watchdog is None:
            self._watchdog = threading.Thread(target=self._watch, name="watchdog", daemon=True)
            self._watchdog.start()

    def _watch(self) -> None:
        """A worker that exits before the end interrupts the main thread (SIGUSR1)."""
        while not self.stopping.wait(0.25):
            for name, proc in self.items:
                if proc.poll() is not None and not self.stopping.is_set():
                    self.died = f"worker {name} exited with code {proc.returncode}"
                    os.kill(os.getpid(), signal.SIGUSR1)
                    return

    def stop(self) -> None:
        self.stopping.set()
        for _, proc in self.items:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for _, proc in self.items:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def tails(self, lines: int = 25) -> str:
        out = []
        for name, _ in self.items:
            text = (self.logs / f"{name}.log").read_text(errors="replace").splitlines()
            out.append(f"--- {name} (last {lines} lines) ---\n" + "\n".join(text[-lines:]))
        return "\n".join(out)


def redis_client_version() -> str:
    """redis-py's version and parser, for the report (hiredis or the pure-Python one)."""
    import redis
    from redis.utils import HIREDIS_AVAILABLE

    return f"redis-py {redis.__version__}" + (" + hiredis" if HIREDIS_AVAILABLE else "")


def venv_bin(name: str) -> str:
    """A console script of the interpreter's own venv (`rq`, `celery`, `flow-worker`...)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise SystemExit(f"{path} is missing: run `benchmarks/peers.py --setup`")
    return str(path)


# --- the peer interface --------------------------------------------------------------------


class Peer(ABC):
    """One peer's producer side; `start` also starts its worker processes."""

    def __init__(self, job: Job, variant: str | None, logs: Path) -> None:
        self.job, self.variant = job, variant
        self.procs = Procs(logs)

    @abstractmethod
    def slots(self) -> int:
        """Tasks one worker process runs at once in this workload."""

    @abstractmethod
    def config(self) -> str:
        """How the workers were run, in words, for the report."""

    @abstractmethod
    def version(self) -> str: ...

    @abstractmethod
    def start(self) -> None:
        """Connect and start the worker processes (readiness is checked by `warm_up`)."""

    def submit(self, fn: str, arg: Any) -> Any:
        raise NotImplementedError

    def wait(self, handle: Any) -> Any:
        raise NotImplementedError

    def run_many(self, fn: str, args: list[Any]) -> list[Any]:
        """Submit every call, then collect every result (override with a bulk API)."""
        handles = [self.submit(fn, arg) for arg in args]
        return [self.wait(handle) for handle in handles]

    def round_trips(self, fn: str, args: list[Any]) -> list[float]:
        """Seconds of each sequential submit-then-wait."""
        seconds = []
        for arg in args:
            start = time.perf_counter()
            self.wait(self.submit(fn, arg))
            seconds.append(time.perf_counter() - start)
        return seconds

    def close(self) -> None:  # noqa: B027 (a hook: most peers override it)
        """Release clients (the workers are stopped by `stop`)."""

    def stop(self) -> None:
        try:
            self.close()
        finally:
            self.procs.stop()


class AsyncPeer(Peer):
    """A peer whose producer is asyncio, on an event loop of its own (``self.loop``, made by
    `start`): a subclass writes `_many` (send every call, then collect every result) and
    `_call` (one call and its result)."""

    loop: asyncio.AbstractEventLoop

    async def _many(self, fn: str, args: list[Any]) -> list[Any]:
        raise NotImplementedError

    async def _call(self, fn: str, arg: Any) -> Any:
        raise NotImplementedError

    async def _trips(self, fn: str, args: list[Any]) -> list[float]:
        seconds = []
        for arg in args:
            start = time.perf_counter()
            await self._call(fn, arg)
            seconds.append(time.perf_counter() - start)
        return seconds

    def run_many(self, fn: str, args: list[Any]) -> list[Any]:
        return self.loop.run_until_complete(self._many(fn, args))

    def round_trips(self, fn: str, args: list[Any]) -> list[float]:
        return self.loop.run_until_complete(self._trips(fn, args))


# --- the workloads ---------------------------------------------------------------------------


def warm_up(peer: Peer) -> None:
    """Wait until both worker processes run tasks, then warm the paths up (untimed)."""
    deadline = time.monotonic() + READY_TIMEOUT
    batch = max(4, 2 * PROCESSES * min(peer.slots(), 8))
    seen: set[int] = set()
    while len(seen) < PROCESSES:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(seen)} of {PROCESSES} worker processes ran tasks")
        seen.update(peer.run_many("whoami", [0.05] * batch))
    peer.run_many("noop", list(range(100)))
    peer.round_trips("noop", list(range(10)))


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _expect(got: list[Any], want: list[Any], what: str) -> None:
    if got != want:
        raise RuntimeError(f"{what}: wrong results ({len(got)} items, first {got[:3]!r})")


def _measure(peer: Peer, job: Job) -> dict[str, Any]:
    """One timed run of the workload."""
    n = job.n
    if job.workload == "W2":
        ms = [s * 1000 for s in peer.round_trips("noop", list(range(n)))]
        return {"p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99)}
    batches: dict[str, tuple[str, list[Any]]] = {
        "W1": ("noop", list(range(n))),
        "W3": ("nap", [job.sleep_s] * n),
        "W4": ("spin", [job.spin_iterations] * n),
    }
    fn, args = batches[job.workload]
    start = time.perf_counter()
    got = list(peer.run_many(fn, args))
    seconds = time.perf_counter() - start
    if job.workload == "W4":
        return {"seconds": seconds, **w4_figures(got, n, seconds)}
    _expect(got, args, f"{job.workload} ({fn})")
    if job.workload == "W1":
        return {"seconds": seconds, "tasks_per_s": n / seconds}
    return {"seconds": seconds}


def w4_figures(got: list[Any], n: int, seconds: float) -> dict[str, float]:
    """W4's figures from what its ``n`` tasks report ([pid, CPU s, wall s], see `spin`).

    - "vs_ideal": the wall time over the shortest time ``PROCESSES`` processes running at the
      speeds they showed (CPU seconds per task) could take for the tasks.
    - "overhead_ms": the wall time minus the shortest time they could take at the wall time
      each task took: the time the framework kept the processes from the tasks (start, the
      hand-offs between tasks, the results' way back, an idle or overloaded process). A task
      that the machine slowed down (the VM's steal, another process on its core) is not
      charged: that is most of what moves "vs_ideal" from round to round on this VM.
    """
    try:
        triples = [(int(pid), float(cpu), float(wall)) for pid, cpu, wall in got]
    except (TypeError, ValueError):
        triples = []
    if len(triples) != n or not all(cpu > 0 and wall > 0 for _, cpu, wall in triples):
        raise RuntimeError(f"W4 (spin): wrong results ({len(got)} items, first {got[:3]!r})")
    ideal = _shortest([(pid, cpu) for pid, cpu, _ in triples])
    busy = _shortest([(pid, wall) for pid, _, wall in triples])
    return {"task_s": sum(cpu for _, cpu, _ in triples) / n, "ideal_s": ideal,
            "vs_ideal": seconds / ideal, "overhead_ms": (seconds - busy) * 1000,
            "processes": float(len({pid for pid, _, _ in triples}))}  # fmt: skip


def _shortest(pairs: list[tuple[int, float]]) -> float:
    """The shortest time ``PROCESSES`` processes take for tasks of these (process, seconds).

    Each process's speed is the mean seconds of the tasks it ran (a process that ran none is
    taken to be as fast as the mean task); the tasks then go one by one to the process that
    would finish them first, which is the best schedule for equal tasks. So a framework that
    leaves a process idle, or prefetches tasks onto one, is charged for it; a core that was
    slower than the other is not."""
    by_process: dict[int, list[float]] = {}
    for pid, took in pairs:
        by_process.setdefault(pid, []).append(took)
    mean = sum(took for _, took in pairs) / len(pairs)
    speeds = sorted(sum(t) / len(t) for t in by_process.values())[:PROCESSES]
    speeds += [mean] * (PROCESSES - len(speeds))
    finish = [0.0] * PROCESSES
    for _ in pairs:
        k = min(range(PROCESSES), key=lambda i: finish[i] + speeds[i])
        finish[k] += speeds[k]
    return max(finish)


BEST_KEY = {"W1": "tasks_per_s", "W2": "p50_ms", "W3": "seconds", "W4": "vs_ideal"}


def best_of(workload: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The best run's figures: the highest tasks/s (W1), the lowest p50 (W2), the shortest
    wall time (W3) or the lowest wall time / ideal (W4), with W4's lowest "overhead_ms" of
    any run (the two are best in different runs as often as not)."""
    key = BEST_KEY[workload]
    best = (max if key == "tasks_per_s" else min)(runs, key=lambda figures: figures[key])
    overheads = [figures["overhead_ms"] for figures in runs if "overhead_ms" in figures]
    return {**best, "overhead_ms": min(overheads)} if overheads else best


def run_workload(peer: Peer, job: Job) -> dict[str, Any]:
    """Start the workers, warm up, time the workload `job.repeat` times; the best run's
    figures (`best_of`), with every run's main figure under "runs" (and W4's overheads under
    "overhead_runs")."""
    peer.start()
    warm_up(peer)
    runs = [_measure(peer, job) for _ in range(job.repeat)]
    key = BEST_KEY[job.workload]
    figures = {"n": job.n, **best_of(job.workload, runs), "runs": [f[key] for f in runs]}
    if job.workload == "W4":
        figures["overhead_runs"] = [f["overhead_ms"] for f in runs]
    return figures
