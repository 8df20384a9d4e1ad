"""A network partition: a worker cut off from Redis (its namespace's link down) while it runs
task runs. Its claims are taken over once its heartbeat lapses, its late outcomes are refused
when the link comes back (fencing), and it rejoins without a restart.

Redis, two worker hosts and the app each in a network namespace (``tests/netns.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import chaos_report
import pytest
from chaos_report import Counts
from integration_helpers import WAIT, clean_env, wait_until

from netns import Hosts

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")

APP = """
    import json, os, sys, time
    from collections import Counter
    from pathlib import Path
    from floq import flow, task
    from floq.runners import RedisTaskRunner
    from floq.store.connection import connect
    from floq.store.keys import Keys
    from floq.store.protocol import TaskRunProtocol

    folder = Path(sys.argv[2])

    @task
    def held(i):
        host = os.environ["HOST"]
        (folder / f"start-{i}-{host}-{time.monotonic_ns()}").touch()
        time.sleep(4)  # long enough to be cut off in the middle
        return i

    @flow(task_runner=RedisTaskRunner(url=sys.argv[1]))
    def partitioned():
        futures = held.map(range(4))
        ids = [f.task_run.id for f in futures]
        values = [f.result() for f in futures]
        return values, futures[0].task_run.flow_run_id, ids

    values, flow_run_id, ids = partitioned()
    client = connect(sys.argv[1])
    protocol = TaskRunProtocol(client, Keys(os.environ["FLOQ_NAMESPACE"]), 600)
    entries = protocol.read_results(client, flow_run_id, "0-0", None)
    recorded = Counter(entry.task_run_id for entry in entries)
    print(json.dumps({"values": values, "recorded": [recorded[i] for i in ids]}))
"""


def test_a_cut_off_worker_is_fenced_and_rejoins(hosts: Hosts, tmp_path: Path) -> None:
    url = hosts.start_server(tmp_path)
    timing = {"FLOQ_HEARTBEAT_SECONDS": "0.5", "FLOQ_WORKER_TTL": "2", "FLOQ_REAP_SECONDS": "0.5"}
    env = clean_env(FLOQ_REDIS_URL=url, FLOQ_NAMESPACE=f"floqtest-{hosts.tag}",
                    FLOQ_FLOW_SLOTS="0", **timing)  # fmt: skip
    marks = tmp_path / "marks"
    marks.mkdir()
    logs = {}
    for host in ("w1", "w2"):
        argv = [sys.executable, "-c", "from floq.cli import flow_worker_cli; flow_worker_cli()",
                "--concurrency", "2", "--name", host]  # fmt: skip
        logs[host] = tmp_path / f"{host}.log"
        hosts.run(host, argv, env={**env, "HOST": host}, stdout=logs[host].open("w"),
                  stderr=subprocess.STDOUT)  # fmt: skip
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(APP))
    app = hosts.run("app", [sys.executable, str(script), url, str(marks)], env=env,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip

    def started(host: str) -> int:
        return len(list(marks.glob(f"start-*-{host}-*")))

    wait_until(lambda: started("w1") >= 1, WAIT, "a task run to start on w1")
    hosts.cut("w1")
    cut = time.monotonic()
    # w2 takes over w1's claims once w1's heartbeat lapses: they start again there.
    wait_until(lambda: started("w2") >= 3, WAIT, "w1's task runs to start again on w2")
    recover = time.monotonic() - cut
    out, err = app.communicate(timeout=WAIT * 2)
    text = {host: path.read_text() for host, path in logs.items()}
    assert app.returncode == 0, f"{err}\n{text}"
    report = json.loads(out.strip().splitlines()[-1])
    recorded = report["recorded"]
    rerun = len(list(marks.glob("start-*"))) - 4
    chaos_report.report(Counts.of("partition: a worker cut off mid-run (netns)", 4, recorded,
                                  rerun=rerun, recover=recover))  # fmt: skip
    assert report["values"] == [0, 1, 2, 3]
    assert recorded == [1, 1, 1, 1], report  # each outcome recorded once
    assert "handed back" in text["w2"], text["w2"]
    hosts.heal("w1")
    # Back on the network, w1's late outcomes are refused, and it serves the queue again.
    wait_until(lambda: "refused a late outcome" in logs["w1"].read_text(), WAIT,
               "w1 to offer its late outcomes")  # fmt: skip
    wait_until(lambda: "is back after" in logs["w1"].read_text(), WAIT, "w1 to reconnect")
    again = hosts.run("app", [sys.executable, str(script), url, str(marks)], env=env,
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    before = started("w1")
    out, err = again.communicate(timeout=WAIT * 2)
    assert again.returncode == 0, err
    assert started("w1") > before, "w1 did not take work after the partition healed"
    assert "Traceback" not in logs["w1"].read_text(), logs["w1"].read_text()
