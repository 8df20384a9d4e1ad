"""A flow-worker's execution modes: parallel (a process pool) and dask (an external cluster)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from integration_helpers import WAIT, WORKER_CLI, clean_env, run_cli

from floq import flow, task
from floq.store.keys import Keys

cloudpickle.register_pickle_by_value(sys.modules[__name__])


@task
def arrive(path: str, parties: int) -> int:
    """Return once ``parties`` runs have arrived: that many run at the same time."""
    with open(path, "a") as out:
        out.write(f"{os.getpid()}\n")
    deadline = time.monotonic() + 20
    while True:
        with open(path) as arrivals:
            if len(arrivals.read().splitlines()) >= parties:
                break
        if time.monotonic() > deadline:
            raise TimeoutError(f"only some of {parties} parties arrived")
        time.sleep(0.01)
    return os.getpid()


@task
def burn(seconds: float) -> tuple[int, float, float]:
    """Keep a CPU busy for ``seconds``; (pid, start, end) in wall-clock time."""
    start = time.time()
    spins = 0
    while time.time() - start < seconds:
        spins += 1
    return os.getpid(), start, time.time()


@task
def dask_worker_address() -> str:
    import distributed

    return str(distributed.get_worker().address)


def test_parallel_mode_runs_cpu_tasks_in_parallel_processes(runner, workers, tmp_path: Path):
    worker = workers.start("--mode", "parallel", "--processes", "2")
    workers.wait_registered(1)

    @flow(task_runner=runner)
    def cpu_bound() -> list[tuple[int, float, float]]:
        # Both pool processes up first (process start-up is not what is measured here).
        warm = [arrive.submit(str(tmp_path / "arrivals"), 2) for _ in range(2)]
        assert len({future.result(timeout=WAIT) for future in warm}) == 2
        return [f.result(timeout=WAIT) for f in [burn.submit(0.5) for _ in range(4)]]

    runs = cpu_bound()

    pids = {pid for pid, _, _ in runs}
    assert len(pids) >= 2, runs
    assert worker.pid not in pids  # the pool's children, not the worker itself
    overlapping = [(a, b) for a, b in combinations(runs, 2) if max(a[1], b[1]) < min(a[2], b[2])]
    assert overlapping, f"no two runs overlapped: {runs}"


@pytest.fixture
def dask_cluster() -> Iterator[object]:
    import distributed  # the test extra installs it: never skip

    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None
    )
    try:
        yield cluster
    finally:
        cluster.close(timeout=20)


def test_dask_mode_runs_tasks_on_the_given_cluster(runner, workers, dask_cluster) -> None:
    import distributed

    with distributed.Client(dask_cluster) as dask_client:
        cluster_workers = set(dask_client.scheduler_info()["workers"])
    assert len(cluster_workers) == 1
    workers.start("--mode", "dask", "--dask-address", dask_cluster.scheduler_address)
    workers.wait_registered(1)

    @flow(task_runner=runner)
    def on_dask() -> list[str]:
        return [f.result(timeout=WAIT) for f in [dask_worker_address.submit() for _ in range(2)]]

    assert set(on_dask()) == cluster_workers, workers.logs()


def _one_error_line(done: Any) -> str:
    assert done.returncode == 1, done
    assert "Traceback" not in done.stderr, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("Error: "), line
    return str(line)


def test_dask_mode_without_dask_says_so_in_one_line(
    redis_url: str, namespace: str, tmp_path: Path
) -> None:
    fake = tmp_path / "distributed"  # an installed-but-broken dask, as far as imports go
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('no dask here')\n")
    env = clean_env(FLOQ_REDIS_URL=redis_url, FLOQ_NAMESPACE=namespace, PYTHONPATH=str(tmp_path))
    line = _one_error_line(run_cli(WORKER_CLI, "--mode", "dask", env=env))
    assert "dask" in line and "pip install" in line, line


def test_a_redis_error_at_start_is_one_line(client: Any, redis_url: str, namespace: str) -> None:
    client.set(Keys(namespace).queue("default"), "not a stream")
    env = clean_env(FLOQ_REDIS_URL=redis_url, FLOQ_NAMESPACE=namespace)
    assert "WRONGTYPE" in _one_error_line(run_cli(WORKER_CLI, env=env))
