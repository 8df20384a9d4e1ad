"""A flow run whose coordinator is killed (SIGKILL of the process running the flow) is
retried by RQ and reuses every task run the crashed attempt had completed."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import enqueued_flows
from chaos_report import Counts, report
from integration_helpers import WAIT, wait_until

from floq.producer import enqueue
from floq.store.keys import Keys
from floq.store.protocol.kept import KeptResults

HERE = str(Path(__file__).parents[1] / "integration")


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_a_retried_flow_run_reuses_what_the_crashed_attempt_completed(
    redis_url: str,
    namespace: str,
    workers: Any,
    floq: Any,
    tmp_path: Path,
    client: Any,
    keys: Keys,
) -> None:
    workers.start("--flow-slots", "1", "--concurrency", "4", PYTHONPATH=HERE)
    workers.wait_registered(1)
    run = enqueue(enqueued_flows.crash_once, (str(tmp_path), 6), retries=1, url=redis_url,
                  namespace=namespace)  # fmt: skip
    pid_file = wait_until(lambda: next(tmp_path.glob("pid-*"), None), WAIT, "stage 1 to end")
    # Results are kept in batches, within 0.1 s: a crash loses at most that much. Kill the
    # coordinator once the six are kept (tally_every_time is never kept).
    kept = KeptResults(client, keys, 600)
    wait_until(lambda: len(kept.load(run.id)) == 6, WAIT, "the six results to be kept")
    (tmp_path / "killed").touch()  # the next attempt goes straight on
    os.kill(int(pid_file.name.split("-")[1]), signal.SIGKILL)
    killed = time.monotonic()
    assert run.result(timeout=WAIT * 2) == sum(x * 10 for x in range(6)) + 1000
    tallies = _lines(tmp_path / "tally")
    assert sorted(tallies) == sorted([*map(str, range(6)), "100"]), tallies  # each once
    assert _lines(tmp_path / "every") == ["ran", "ran"]  # persist_result=False: runs again
    data = json.loads(floq("inspect", run.id, "--json", "--all").stdout)
    reused = [t for t in data["task_runs"] if t["state"] == "Cached"]
    report(Counts("coordinator SIGKILL, RQ retry resumes", 7, reused=len(reused),
                  rerun=len(tallies) - 7, recover=time.monotonic() - killed))  # fmt: skip
    assert len(reused) == 6, data["task_runs"]
    assert all("reused from attempt 1" in (t.get("message") or "") for t in reused), reused


def test_floq_retry_runs_a_failed_run_again_reusing_its_task_runs(
    redis_url: str, namespace: str, workers: Any, floq: Any, tmp_path: Path
) -> None:
    workers.start("--flow-slots", "1", "--concurrency", "4", PYTHONPATH=HERE)
    workers.wait_registered(1)
    run = enqueue(enqueued_flows.fail_until_fixed, (str(tmp_path), 4), url=redis_url,
                  namespace=namespace)  # fmt: skip
    assert run.wait(timeout=WAIT).name == "Failed"
    (tmp_path / "fixed").touch()
    done = floq("retry", run.id)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{run.id}: Pending"
    assert run.result(timeout=WAIT) == 60
    tallies = _lines(tmp_path / "tally")
    data = json.loads(floq("inspect", run.id, "--json", "--all").stdout)
    reused = [t for t in data["task_runs"] if t["state"] == "Cached"]
    report(Counts("failed flow run, floq retry resumes", 4, rerun=len(tallies) - 4,
                  reused=len(reused)))  # fmt: skip
    assert len(reused) == 4, data["task_runs"]
    assert sorted(tallies) == ["0", "1", "2", "3"]  # each ran once
    again = floq("retry", run.id)
    assert again.returncode == 1 and "only a Failed, Crashed or Cancelled" in again.stderr
