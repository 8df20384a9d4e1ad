"""Fixtures of the task-runner contract suite: every test in this folder runs on every runner.

A runner joins the suite by adding one :class:`RunnerCase` to ``RUNNER_CASES``; its
capabilities tell the tests what to expect where runners legitimately differ (a sequential
runner finishes each run inside ``submit``, so nothing is ever left waiting).

Tasks run in other processes for the process-pool and Dask runners (and, later, on Redis
workers), so the tests count executions through files (:class:`Counter`), never through
globals. This module and the test modules are pickled by value: worker processes cannot
import them.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cloudpickle
import pytest
from contract_helpers import WAIT

from floq import task
from floq.runners import (
    ConcurrentTaskRunner,
    DaskTaskRunner,
    ProcessPoolTaskRunner,
    RedisTaskRunner,
    SequentialTaskRunner,
    TaskRunner,
)

cloudpickle.register_pickle_by_value(sys.modules[__name__])

# How long any single wait in the suite may block before the test fails instead of hanging.


@dataclass(frozen=True)
class RunnerCase:
    """One task runner under test, and what it can do.

    ``concurrent``: ``submit`` returns at once and runs overlap, so futures can be seen
    unfinished and finish in completion order. False for a runner that runs each call
    inside ``submit`` (sequential): its futures are already final when ``submit`` returns.
    ``slots``: how many task runs can run at the same time (1 for sequential).
    ``remote``: task runs execute in another process.
    """

    id: str
    make: Callable[[pytest.FixtureRequest], TaskRunner]
    concurrent: bool
    slots: int
    remote: bool


def _dask(request: pytest.FixtureRequest) -> TaskRunner:
    return DaskTaskRunner(address=request.getfixturevalue("dask_address"))


def _redis(request: pytest.FixtureRequest) -> TaskRunner:
    """Two real flow-worker processes (session-wide) on a real server."""
    workers = request.getfixturevalue("shared_workers")()
    return RedisTaskRunner(url=workers.url, namespace=workers.namespace)


def _redis_cluster(request: pytest.FixtureRequest) -> TaskRunner:
    """The same on a real local 3-node Redis Cluster: slots matter there, not on one server."""
    url = request.getfixturevalue("cluster_url")
    workers = request.getfixturevalue("shared_cluster_workers")(url)
    return RedisTaskRunner(url=workers.url, namespace=workers.namespace)


RUNNER_CASES = [
    RunnerCase("sequential", lambda _: SequentialTaskRunner(), False, 1, False),
    RunnerCase("concurrent", lambda _: ConcurrentTaskRunner(), True, 64, False),
    RunnerCase("process", lambda _: ProcessPoolTaskRunner(max_workers=2), True, 2, True),
    RunnerCase("dask", _dask, True, 4, True),
    RunnerCase("redis", _redis, True, 16, True),
    RunnerCase("redis-cluster", _redis_cluster, True, 16, True),
]


@pytest.fixture(scope="session")
def dask_address() -> Iterator[str]:
    """One local Dask cluster (2 worker processes x 2 threads) for the whole session."""
    import distributed  # the test extra installs it: never skip

    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.fixture(params=RUNNER_CASES, ids=[case.id for case in RUNNER_CASES])
def runner_case(request: pytest.FixtureRequest) -> RunnerCase:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def runner(runner_case: RunnerCase, request: pytest.FixtureRequest) -> TaskRunner:
    """A fresh, unstarted runner of the case under test (a flow duplicates it per run)."""
    return runner_case.make(request)


@dataclass(frozen=True)
class Counter:
    """Counts executions across processes: one line appended to a file per call of ``hit``."""

    path: Path

    def hit(self, note: str = "") -> int:
        """Record one execution; return how many there have been so far (this one included)."""
        with self.path.open("a", encoding="utf-8") as out:
            out.write(f"{os.getpid()}:{threading.get_ident()}:{note}\n")
        return self.count()

    def lines(self) -> list[str]:
        return self.path.read_text(encoding="utf-8").splitlines()

    def count(self) -> int:
        return len(self.lines())


@pytest.fixture
def counters(tmp_path: Path) -> Callable[[str], Counter]:
    """``counters(name)`` gives a new, empty :class:`Counter` under ``tmp_path``."""

    def make(name: str) -> Counter:
        path = tmp_path / f"{name}.count"
        path.write_text("", encoding="utf-8")
        return Counter(path)

    return make


@task
def rendezvous(counter: Counter, parties: int, deadline: float = WAIT) -> int:
    """Return once ``parties`` runs have arrived: proves that many run at the same time."""
    counter.hit()
    end = time.monotonic() + deadline
    while counter.count() < parties:
        if time.monotonic() > end:
            raise TimeoutError(f"only {counter.count()} of {parties} parties arrived")
        time.sleep(0.01)
    return os.getpid()


@pytest.fixture
def warm_up(runner_case: RunnerCase, counters: Callable[[str], Counter]) -> Callable[[], None]:
    """Call inside a flow: returns once the runner's workers are up (process start-up paid).

    On a runner with two or more slots, two runs must meet, so two workers are running.
    """

    calls = itertools.count()

    def run() -> None:
        parties = min(runner_case.slots, 2)
        counter = counters(f"warm-up-{next(calls)}")
        futures = [rendezvous.submit(counter, parties) for _ in range(parties)]
        for future in futures:
            future.result(timeout=WAIT)

    return run
