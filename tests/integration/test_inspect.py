"""`floq inspect` and `floq watch` on real flow runs: a summary per task by default, every task
run with --all, --state and --limit; runs held by a lost worker; attempts redone after a crash."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
from inspect_flows import TASK_QUEUE
from integration_helpers import WAIT, wait_until

HERE = str(Path(__file__).parent)
MAPPED = 300
FAILING = [7, 107, 207]  # the mapped runs that fail (x % 100 == 7)


@pytest.fixture
def mapped_run(workers: Any, floq: Any) -> str:
    """The id of a finished flow run of MAPPED mapped task runs, three of them failed."""
    workers.start("--flow-slots", "1", "--concurrency", "8", PYTHONPATH=HERE)
    workers.wait_registered(1)
    done = floq("enqueue", "inspect_flows:many_squares", "-p", f"n={MAPPED}", "--wait")
    assert done.returncode == 0, done.stderr + workers.logs()
    assert done.stdout.splitlines()[-1] == f"Completed: {MAPPED - len(FAILING)}"
    return str(done.stdout.splitlines()[0])


def test_default_is_a_summary_per_task(mapped_run: str, floq: Any) -> None:
    shown = floq("inspect", mapped_run)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert len(lines) < 15, shown.stdout
    [row] = [line for line in lines if line.lstrip().startswith("square ")]
    assert f"{MAPPED} task run(s)" in shown.stdout
    assert "3 Failed" in row and f"{MAPPED - 3} Completed" in row
    assert row.index("Failed") < row.index("Completed")  # failures first
    assert "square-7: " in row and "no 7, on purpose" in row  # first failure, by map index


def test_json_sums_up_and_lists(mapped_run: str, floq: Any) -> None:
    data = json.loads(floq("inspect", mapped_run, "--json").stdout)
    [group] = data["task_summary"]
    assert group["task"] == "square" and group["runs"] == MAPPED
    assert group["states"] == {"Failed": 3, "Completed": MAPPED - 3}
    assert 0 <= group["min"] <= group["median"] <= group["max"]
    names = [row["name"] for row in data["task_runs"]]
    assert names == [f"square-{i}" for i in range(MAPPED)]


def test_all_state_and_limit(mapped_run: str, floq: Any) -> None:
    every = floq("inspect", mapped_run, "--all").stdout
    assert all(f" square-{i} " in every for i in range(MAPPED))
    assert len(every.splitlines()) > MAPPED

    failed = floq("inspect", mapped_run, "--state", "failed")
    assert failed.returncode == 0, failed.stderr
    rows = [line for line in failed.stdout.splitlines() if " square-" in line]
    assert [row.split()[2] for row in rows] == [f"square-{i}" for i in FAILING]
    assert all("Failed" in row and "on purpose" in row for row in rows)
    data = json.loads(floq("inspect", mapped_run, "--state", "Failed", "--json").stdout)
    assert [row["name"] for row in data["task_runs"]] == [f"square-{i}" for i in FAILING]

    limited = floq("inspect", mapped_run, "--limit", "5").stdout
    assert len([line for line in limited.splitlines() if " square-" in line]) == 5
    assert f"{MAPPED} task run(s), 5 shown" in limited


def test_a_lost_workers_run_shows_as_lost_then_redone_with_two_attempts(
    workers: Any, floq: Any, tmp_path: Path
) -> None:
    # Any live worker reaps a lost one's claims, whatever queue: this one not for a minute, so
    # that the run stays held by a lost worker while the test looks.
    workers.start("--flow-slots", "1", "--queue", "flows", PYTHONPATH=HERE, FLOQ_REAP_SECONDS="60")
    doomed = workers.start("--flow-slots", "0", "--queue", TASK_QUEUE, PYTHONPATH=HERE)
    workers.wait_registered(2)
    enqueued = floq("enqueue", "inspect_flows:lose_a_worker", "-p", f"folder={tmp_path}",
                    "--queue", "flows")  # fmt: skip
    assert enqueued.returncode == 0, enqueued.stderr
    run_id = enqueued.stdout.strip()
    wait_until(lambda: (tmp_path / "first").exists(), WAIT, "the first attempt")
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=WAIT)

    def lost() -> Any:
        [row] = json.loads(floq("inspect", run_id, "--json").stdout)["task_runs"]
        return row if row["worker_lost"] else None

    row = wait_until(lost, WAIT, "the run held by the killed worker to show as lost")
    assert row["state"] == "Running" and row["worker"].startswith("w1-")
    listed = floq("inspect", run_id, "--all").stdout
    assert f"Running (worker {row['worker']} lost)" in listed
    watched = floq("watch", run_id, "--timeout", "1")
    assert watched.returncode != 0
    assert f"1 Running (worker {row['worker']} lost)" in watched.stdout

    workers.start("--flow-slots", "0", "--queue", TASK_QUEUE, PYTHONPATH=HERE)  # reaps, redoes
    done = floq("watch", run_id, "--timeout", str(WAIT))
    assert done.returncode == 0, done.stdout + done.stderr + workers.logs()
    [row] = json.loads(floq("inspect", run_id, "--json").stdout)["task_runs"]
    assert (row["state"], row["attempts"], row["worker_lost"]) == ("Completed", 2, False)
