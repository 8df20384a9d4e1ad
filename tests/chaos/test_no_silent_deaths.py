"""Faults that used to hang a flow or kill a thread silently now end on time, saying why."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from integration_helpers import WAIT, WORKER_CLI, clean_env

from proctree import assert_all_end, descendants
from servers import Servers

APP = """
    import sys
    from floq import flow, task
    from floq.runners import RedisTaskRunner

    @task
    def double(x):
        return 2 * x

    @flow(task_runner=RedisTaskRunner(url=sys.argv[1]))
    def doubled():
        return [f.result(timeout=20) for f in double.map(range(3))]

    print(doubled())
"""


def test_a_secret_mismatch_fails_the_task_runs_instead_of_hanging(
    redis_url: str, namespace: str, workers: Any, tmp_path: Path
) -> None:
    workers.start(FLOQ_SECRET="the-workers-secret")
    workers.wait_registered(1)
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(APP))
    env = clean_env(FLOQ_REDIS_URL=redis_url, FLOQ_NAMESPACE=namespace,
                    FLOQ_SECRET="the-apps-secret")  # fmt: skip
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(script), redis_url], env=env, capture_output=True,
                          text=True, timeout=WAIT * 2)  # fmt: skip
    assert done.returncode == 1, done.stdout
    assert time.monotonic() - started < WAIT
    assert "different FLOQ_SECRET" in done.stderr, done.stderr[-3000:]


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[tuple[Servers, int]]:
    servers = Servers(tmp_path / "server")
    port = servers.start()
    yield servers, port
    servers.stop()


@pytest.mark.parametrize("mode", ["concurrent", "parallel"])
def test_a_worker_whose_server_stays_away_exits_with_one_clear_line(
    own_server: tuple[Servers, int], namespace: str, tmp_path: Path, mode: str
) -> None:
    """The worker ends, with its processes (parallel mode's pool used to keep it alive
    forever: the drain's hand-back met the lost server and the pool was never shut down)."""
    servers, port = own_server
    url = f"redis://127.0.0.1:{port}/0"
    env = clean_env(FLOQ_REDIS_URL=url, FLOQ_NAMESPACE=namespace, FLOQ_FLOW_SLOTS="0",
                    FLOQ_REDIS_RETRY_SECONDS="2", FLOQ_HEARTBEAT_SECONDS="0.5",
                    FLOQ_WORKER_TTL="2")  # fmt: skip
    log = tmp_path / "worker.log"
    worker = subprocess.Popen([*WORKER_CLI, "--mode", mode], env=env, stdout=subprocess.DEVNULL,
                              stderr=log.open("w"))  # fmt: skip
    try:
        deadline = time.monotonic() + WAIT
        while f"{mode} mode" not in log.read_text():
            assert time.monotonic() < deadline and worker.poll() is None, log.read_text()
            time.sleep(0.05)
        below = descendants(worker.pid)
        servers.processes.pop(port).kill()  # gone for good
        assert worker.wait(timeout=WAIT) == 1, log.read_text()
        assert_all_end(below, WAIT, "the worker's processes")
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)
    text = log.read_text()
    assert "Traceback" not in text, text
    assert f"lost Redis at {url} for more than 2 s" in text.splitlines()[-1], text
