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
from pathlib import Path

import pytest
from integration_helpers import WAIT, clean_env

from netns import Hosts

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")

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
    url = hosts.start_server(tmp_path)
    env = clean_env(FLOQ_REDIS_URL=url, FLOQ_NAMESPACE=f"floqtest-{hosts.tag}", FLOQ_FLOW_SLOTS="0")
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
