"""The flow runs of one process share one client per Redis address (``floq.runners.redis``):
a flow run's start checks the server with one round trip and reuses the connections the
earlier flow runs opened, as an RQ or Celery app reuses its connection pool."""

from __future__ import annotations

import re
from typing import Any

import psutil
from integration_helpers import WAIT
from shared_tasks import add

from floq import flow


def _ports(url: str) -> set[int]:
    """The server ports in a ``redis://`` or ``redis+cluster://`` URL."""
    hosts = re.sub(r"^[a-z+]+://([^@/]*@)?", "", url).split("/")[0]
    return {int(node.rsplit(":", 1)[1]) for node in hosts.split(",")}


def _open_connections(url: str) -> set[int]:
    """The local ports of this process's open TCP connections to the server(s) at ``url``."""
    ports = _ports(url)
    return {
        c.laddr.port
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port in ports and c.status == psutil.CONN_ESTABLISHED
    }


def test_later_flow_runs_reuse_the_connections_of_the_first(
    runner: Any, workers: Any, redis_url: str
) -> None:
    workers.start("--concurrency", "2")
    workers.wait_registered(1)

    @flow(task_runner=runner)
    def adds(x: int) -> set[int]:
        assert add.submit(x, 1).result(timeout=WAIT) == x + 1
        return _open_connections(redis_url)  # the runner's among them, while it runs

    first = adds(1)
    seen = set(first)
    for x in range(2, 7):
        seen |= adds(x)
    # Five more flow runs, each of which used to open two clients of its own: at most one
    # more connection (the pool grows if three threads of one run overlap).
    assert len(seen - first) <= 1, f"new connections: {sorted(seen - first)}"
