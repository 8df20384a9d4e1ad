"""Several hosts without Docker: Redis, two flow-workers and the app each in a network namespace of
its own, joined by veth pairs to a bridge (198.51.100.0/24, a documentation range, no route out).
A flow run from the app host spreads its task runs over both worker hosts and completes.

Needs root (network namespaces), as on this project's machines and in CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from integration_helpers import WAIT, clean_env, wait_until

from floq.store import embedded

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")

SUBNET = "198.51.100"
HOSTS = {"redis": 1, "w1": 2, "w2": 3, "app": 4}
PORT = 6399


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


class Hosts:
    """Network namespaces on one bridge; ``run`` starts a command on a host."""

    def __init__(self) -> None:
        self.tag = os.urandom(3).hex()
        self.hub = f"floq-{self.tag}-hub"
        self.made: list[str] = []
        self.processes: list[subprocess.Popen[str]] = []

    def ns(self, host: str) -> str:
        return f"floq-{self.tag}-{host}"

    def create(self) -> None:
        ip("netns", "add", self.hub)
        self.made.append(self.hub)
        ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        ip("-n", self.hub, "link", "set", "br0", "up")
        for host, number in HOSTS.items():
            ns, inner, outer = self.ns(host), f"f{self.tag}{number}a", f"f{self.tag}{number}b"
            ip("netns", "add", ns)
            self.made.append(ns)
            ip("link", "add", inner, "type", "veth", "peer", "name", outer)
            ip("link", "set", inner, "netns", ns)
            ip("link", "set", outer, "netns", self.hub)
            ip("-n", self.hub, "link", "set", outer, "master", "br0", "up")
            ip("-n", ns, "addr", "add", f"{SUBNET}.{number}/24", "dev", inner)
            ip("-n", ns, "link", "set", inner, "up")
            ip("-n", ns, "link", "set", "lo", "up")

    def run(self, host: str, argv: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        """Start ``argv`` on ``host``; it is killed when the hosts are removed."""
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.ns(host), *argv], text=True, **kwargs
        )
        self.processes.append(process)
        return process

    def remove(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
        for ns in reversed(self.made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    made = Hosts()
    try:
        made.create()
        yield made
    finally:
        made.remove()


SCRIPT = """
    import os, sys
    from floq import flow, task
    from floq.runners import RedisTaskRunner

    @task
    def where(i):
        import time
        time.sleep(0.05)
        return os.getpid()

    @flow(task_runner=RedisTaskRunner(url=sys.argv[1]))
    def spread():
        return [f.result() for f in where.map(range(40))]

    if __name__ == "__main__":
        print(sorted(set(spread())))
"""


def test_a_flow_spreads_over_workers_on_two_hosts(hosts: Hosts, tmp_path: Path) -> None:
    address = f"{SUBNET}.{HOSTS['redis']}"
    server = embedded.server_args(PORT, tmp_path, daemonize=False)
    server = [arg if arg != "127.0.0.1" else address for arg in server]
    password = os.urandom(8).hex()  # off loopback, the server wants a password (protected mode)
    server += ["--requirepass", password]
    hosts.run("redis", server, stdout=subprocess.DEVNULL)
    url = f"redis://:{password}@{address}:{PORT}/0"
    env = clean_env(FLOQ_REDIS_URL=url, FLOQ_NAMESPACE=f"floqtest-{hosts.tag}", FLOQ_FLOW_SLOTS="0")
    ping = [sys.executable, "-c", f"import redis; redis.Redis.from_url({url!r}).ping()"]
    wait_until(lambda: hosts.run("app", ping, stderr=subprocess.DEVNULL).wait(timeout=10) == 0,
               WAIT, "the server, from the app host")  # fmt: skip
    workers = {}
    for host in ("w1", "w2"):
        argv = [sys.executable, "-c", "from floq.cli import flow_worker_cli; flow_worker_cli()",
                "--concurrency", "2", "--name", host]  # fmt: skip
        log = (tmp_path / f"{host}.log").open("w")
        workers[host] = hosts.run(host, argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(SCRIPT))
    app = hosts.run("app", [sys.executable, str(script), url], env=env, cwd=tmp_path,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    out, err = app.communicate(timeout=WAIT * 2)
    logs = "\n".join(p.read_text() for p in tmp_path.glob("w*.log"))
    assert app.returncode == 0, f"{err}\n{logs}"
    assert out.strip() == str(sorted(w.pid for w in workers.values())), f"{out}\n{logs}"
