"""A script's ``__main__`` code (a lambda closing over a local, a @task calling it) runs on workers.

Workers cannot import a script's ``__main__``: the task and everything it refers to must travel
by value through Redis.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from integration_helpers import WAIT, clean_env

SCRIPT = """
import json
import os

from floq import flow, task
from floq.runners import RedisTaskRunner


def make_scaler(factor):
    offset = factor // 2
    return lambda x: x * factor + offset  # closes over two locals


scale = make_scaler(int(os.environ["FACTOR"]))


@task
def apply(x):
    return scale(x), os.getpid()


@flow(task_runner=RedisTaskRunner(url=os.environ["URL"], namespace=os.environ["NS"]))
def scaled(xs):
    futures = apply.map(xs)
    return [future.result(timeout=30) for future in futures]


if __name__ == "__main__":
    pairs = scaled([1, 2, 3, 4])
    print(json.dumps({
        "values": [value for value, _ in pairs],
        "task_pids": sorted({pid for _, pid in pairs}),
        "script_pid": os.getpid(),
    }))
"""


def test_main_module_closure_runs_on_workers(
    redis_url: str, namespace: str, workers, tmp_path: Path
) -> None:
    for _ in range(2):
        workers.start("--concurrency", "4")
    workers.wait_registered(2)
    script = tmp_path / "closure_script.py"
    script.write_text(SCRIPT)
    env = clean_env(URL=redis_url, NS=namespace, FACTOR="7")

    done = subprocess.run(
        [sys.executable, str(script)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=WAIT,
    )  # fmt: skip

    assert done.returncode == 0, f"{done.stderr}\n{workers.logs()}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["values"] == [7 * x + 3 for x in (1, 2, 3, 4)]
    worker_pids = {process.pid for process in workers.processes}
    assert report["task_pids"], report
    assert report["script_pid"] not in report["task_pids"]
    assert set(report["task_pids"]) <= worker_pids, (report, worker_pids)
    assert os.getpid() not in report["task_pids"]
