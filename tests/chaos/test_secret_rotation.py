"""Rotating ``FLOQ_SECRET`` while a flow runs, the documented way, loses nothing.

The steps (``floq/serialization.py``): every process gets ``old,new`` (signs with the old,
verifies either), then ``new,old`` (signs with the new), then ``new`` alone once nothing signed
with the old is left. Here the app runs at step one while its workers are replaced one by one,
from ``old`` through ``old,new`` to ``new,old``; a second flow run then goes with the app at
step two. (A process left with only the other secret refuses what it is sent, with a message
that says so: ``test_no_silent_deaths.py``.)
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from chaos_report import Counts, report
from integration_helpers import WAIT, clean_env, wait_until

TASKS = 120

APP = """
    import json, sys, time
    from collections import Counter
    from pathlib import Path
    from floq import flow, task
    from floq.runners import RedisTaskRunner
    from floq.store.connection import connect
    from floq.store.keys import Keys
    from floq.store.protocol import TaskRunProtocol
    import os

    @task
    def step(x, folder):
        time.sleep(0.05)
        (Path(folder) / f"{x}-{time.monotonic_ns()}").touch()  # one file per execution
        return x

    @flow(task_runner=RedisTaskRunner(url=sys.argv[1]))
    def rotated(n, folder):
        futures = step.map(range(n), folder)
        return [f.result(timeout=60) for f in futures], futures[0].task_run.flow_run_id

    values, flow_run_id = rotated(int(sys.argv[2]), sys.argv[3])
    client = connect(sys.argv[1])
    protocol = TaskRunProtocol(client, Keys(os.environ["FLOQ_NAMESPACE"]), 600)
    entries = protocol.read_results(client, flow_run_id, "0-0", None)
    recorded = Counter(e.task_run_id for e in entries if e.task_run_id is not None)
    print(json.dumps({"values": values, "recorded": sorted(recorded.values())}))
"""


def _app(script: Path, url: str, namespace: str, secret: str, n: int, folder: Path) -> Any:
    env = clean_env(FLOQ_REDIS_URL=url, FLOQ_NAMESPACE=namespace, FLOQ_SECRET=secret)
    folder.mkdir()
    return subprocess.Popen([sys.executable, str(script), url, str(n), str(folder)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _replace(workers: Any, old: subprocess.Popen[bytes], secret: str) -> subprocess.Popen[bytes]:
    """Start a worker with ``secret``, then stop ``old`` (SIGTERM: it drains)."""
    new = workers.start("--concurrency", "4", FLOQ_SECRET=secret)
    old.send_signal(signal.SIGTERM)
    assert old.wait(timeout=WAIT) == 0, workers.logs()
    return new


def test_rotating_the_secret_worker_by_worker_mid_flow_loses_nothing(
    redis_url: str, namespace: str, workers: Any, tmp_path: Path
) -> None:
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(APP))
    first = workers.start("--concurrency", "4", FLOQ_SECRET="old")
    workers.wait_registered(1)
    done = tmp_path / "done"
    app = _app(script, redis_url, namespace, "old,new", TASKS, done)
    worker = first
    for turn, secret in enumerate(("old,new", "new,old")):
        wait_until(lambda turn=turn: len(list(done.iterdir())) >= (turn + 1) * TASKS // 3,
                   WAIT, f"progress before replacement {turn + 1}")  # fmt: skip
        worker = _replace(workers, worker, secret)
    out, err = app.communicate(timeout=WAIT * 2)
    assert app.returncode == 0, f"{err[-3000:]}\n{workers.logs()}"
    result = json.loads(out.strip().splitlines()[-1])
    executions = len(list(done.iterdir()))
    report(Counts.of("FLOQ_SECRET rotated worker by worker mid-flow", TASKS, result["recorded"],
                     rerun=executions - TASKS))  # fmt: skip
    assert result["values"] == list(range(TASKS))
    assert result["recorded"] == [1] * TASKS
    assert "different FLOQ_SECRET" not in workers.logs(), workers.logs()

    # Step two for the app: it signs with the new secret; the worker at step two runs it.
    again = _app(script, redis_url, namespace, "new,old", 5, tmp_path / "again")
    out, err = again.communicate(timeout=WAIT * 2)
    assert again.returncode == 0, err[-3000:]
    assert json.loads(out.strip().splitlines()[-1])["values"] == list(range(5))
