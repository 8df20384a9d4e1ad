"""A flow-worker killed with SIGKILL leaves no process behind: flow slots, their RQ work
horses and scheduler, parallel mode's pool all end with it; `floq workers` lists the slots."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import enqueued_flows
from integration_helpers import FLOQ_CLI, WAIT, clean_env, run_cli, wait_until

from floq.producer import enqueue
from proctree import assert_all_end, cmdline, descendants

HERE = str(Path(__file__).parent)


def test_a_sigkilled_worker_takes_every_process_it_started_with_it(
    workers: Any, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    worker = workers.start(
        "--flow-slots", "1", "--mode", "parallel", "--processes", "2", PYTHONPATH=HERE
    )
    workers.wait_registered(1)
    # A running flow run: a work horse in the slot, its task run in a pool process.
    enqueue(enqueued_flows.stuck, (str(tmp_path), False), url=redis_url, namespace=namespace)
    wait_until(lambda: (tmp_path / "hold").exists(), WAIT, f"the task run\n{workers.logs()}")

    env = clean_env(FLOQ_REDIS_URL=redis_url, FLOQ_NAMESPACE=namespace)
    listed = run_cli(FLOQ_CLI, "workers", "--json", env=env)
    [info] = json.loads(listed.stdout)
    [slot] = info["flow_slot_workers"]
    assert slot["name"].startswith(f"{info['name']}-flow-0.")
    assert f"(pid {slot['pid']})" in run_cli(FLOQ_CLI, "workers", env=env).stdout

    started = descendants(worker.pid)
    below_slot = descendants(slot["pid"])
    assert slot["pid"] in started
    assert len(below_slot) >= 2, [cmdline(pid) for pid in below_slot]  # horse and scheduler
    assert len(started - below_slot - {slot["pid"]}) >= 2  # the pool (and its tracker)

    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=WAIT)
    assert_all_end(started, 5, "the killed worker's processes to end")


APP = """
import time
from floq import flow, task
from floq.runners import ProcessPoolTaskRunner

@task
def hold(path):
    open(path, "a").close()
    time.sleep(60)

@flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
def holding(folder):
    return [f.result() for f in hold.map([f"{folder}/{i}" for i in range(2)])]

if __name__ == "__main__":
    holding(FOLDER)
"""


def test_a_sigkilled_app_takes_its_process_pool_runners_processes_with_it(tmp_path: Path) -> None:
    """ProcessPoolTaskRunner in an app killed mid-flow: its pool processes end too (they
    lived on before, each waiting for work that could never come)."""
    script = tmp_path / "app.py"
    script.write_text(APP.replace("FOLDER", repr(str(tmp_path))))
    app = subprocess.Popen([sys.executable, str(script)], env=clean_env(), cwd=tmp_path)
    try:
        wait_until(lambda: (tmp_path / "0").exists() and (tmp_path / "1").exists(), WAIT,
                   "both task runs to start")  # fmt: skip
        started = descendants(app.pid)
        pool = {pid for pid in started if "spawn_main" in cmdline(pid)}
        assert len(pool) == 2, [cmdline(pid) for pid in started]
    finally:
        app.kill()
        app.wait(timeout=WAIT)
    assert_all_end(started, 5, "the killed app's pool processes to end")
