"""The `floq` command on a real server with real flow-workers: every command, as users run it."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path
from typing import Any

from integration_helpers import FLOQ_CLI, WAIT, clean_env, wait_until

HERE = str(Path(__file__).parent)


def _enqueue(floq: Any, *args: str) -> str:
    done = floq("enqueue", *args)
    assert done.returncode == 0, done.stderr
    run_id: str = done.stdout.strip()
    assert len(run_id) == 32 and "\n" not in run_id, done.stdout
    return run_id


def test_enqueue_watch_runs_and_inspect_a_finished_run(workers: Any, floq: Any) -> None:
    workers.start("--flow-slots", "1", PYTHONPATH=HERE)
    workers.wait_registered(1)
    run_id = _enqueue(floq, "enqueued_flows:sum_of_squares", "-p", "n=4")
    watched = floq("watch", run_id, "--timeout", str(WAIT))
    assert watched.returncode == 0, watched.stderr
    assert watched.stdout.splitlines()[-2:] == ["Completed: 4/4 task runs finished", "Completed"]

    [row] = json.loads(floq("runs", "--json").stdout)
    assert (row["id"], row["flow"], row["state"], row["queue"]) == (
        run_id, "sum_of_squares", "Completed", "default",
    )  # fmt: skip
    assert row["tasks"]["submitted"] == row["tasks"]["completed"] == 4
    assert row["seconds"] is not None and row["seconds"] >= 0
    assert run_id in floq("runs").stdout

    data = json.loads(floq("inspect", run_id, "--json").stdout)
    assert data["description"] == "sum_of_squares(n=4)" and data["attempts"] == 1
    tasks = data["task_runs"]
    assert len(tasks) == 4
    for task in tasks:
        assert task["state"] == "Completed" and task["attempts"] == 1
        assert task["worker"].startswith("w0-") and task["seconds"] is not None
    summed = floq("inspect", run_id).stdout  # a line per task, not per task run
    assert "4 task run(s)" in summed and "4 Completed" in summed
    table = floq("inspect", run_id, "--all").stdout
    assert all(task["id"] in table for task in tasks)


def test_enqueue_wait_prints_the_result_and_watch_of_a_failure_exits_1(
    workers: Any, floq: Any, tmp_path: Path
) -> None:
    workers.start("--flow-slots", "1", PYTHONPATH=HERE)
    workers.wait_registered(1)
    done = floq("enqueue", "enqueued_flows:sum_of_squares", "-p", "n=3", "--wait")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "Completed: 5"
    args = ["-p", f"counter={tmp_path / 'runs'}", "-p", "failures=9"]
    run_id = _enqueue(floq, "enqueued_flows:flaky", *args)
    watched = floq("watch", run_id, "--timeout", str(WAIT))
    assert watched.returncode == 1
    assert watched.stdout.splitlines()[-1].startswith("Failed")
    assert "run 1 fails on purpose" in watched.stdout.splitlines()[-1]  # the state's message
    message = json.loads(floq("inspect", run_id, "--json").stdout)["message"]
    assert "run 1 fails on purpose" in message
    assert f"message: {message}" in " ".join(floq("inspect", run_id).stdout.split())  # in full


def test_cancel_command_and_unknown_ids(workers: Any, floq: Any, tmp_path: Path) -> None:
    workers.start("--flow-slots", "1", "--concurrency", "1", PYTHONPATH=HERE)
    workers.wait_registered(1)
    # The first task holds its slot for 10 s: the inspect and cancel below need a few on a
    # busy machine (held 3 s, the run could end before the cancel, and the test failed).
    args = ("-p", f"folder={tmp_path}", "-p", "queued=3", "-p", "seconds=10")
    run_id = _enqueue(floq, "enqueued_flows:long_one", *args)
    wait_until(lambda: (tmp_path / "hold").exists(), WAIT, "the flow run's first task")
    running = json.loads(floq("inspect", run_id, "--json").stdout)
    assert running["state"] == "Running"
    states = [(t["name"].split("-")[0], t["state"]) for t in running["task_runs"]]
    assert states == [("hold", "Running")] + [("touch", "Pending")] * 3
    assert running["task_runs"][0]["worker"].startswith("w0-")
    done = floq("cancel", run_id)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{run_id}: Cancelled"
    data = json.loads(floq("inspect", run_id, "--json").stdout)
    assert data["state"] == "Cancelled"
    assert [t["state"] for t in data["task_runs"]] == ["Cancelled"] * 4
    for command in ("inspect", "watch", "cancel"):
        unknown = floq(command, "no-such-run")
        assert unknown.returncode != 0
        assert "no flow run 'no-such-run'" in unknown.stderr


def test_workers_lists_live_workers(workers: Any, floq: Any) -> None:
    process = workers.start(
        "--flow-slots", "0", "--concurrency", "3", "--queue", "a", "--queue", "b"
    )
    workers.wait_registered(1)
    [info] = json.loads(floq("workers", "--json").stdout)
    assert info["pid"] == process.pid
    assert (info["mode"], info["slots"], info["flow_slots"], info["queues"]) == (
        "concurrent", 3, 0, ["a", "b"],
    )  # fmt: skip
    assert 0 <= info["seen"] < 5 and info["inflight"] == 0
    assert info["name"] in floq("workers").stdout


def test_queues_counts_what_waits_where(floq: Any, client: Any, keys: Any) -> None:
    from floq.store.protocol import Submission, TaskRunProtocol

    protocol = TaskRunProtocol(client, keys, 60)
    protocol.ensure_queue("q1")
    for i in range(3):  # three task runs queued, one of them claimed
        protocol.submit("q1", [Submission(f"t{i}", "fr", b"x", (), "code", f"t{i}")])
    claims, _ = protocol.claim(client, "someone", ["q1"], 1, block_ms=100)
    assert len(claims) == 1
    client.zadd(keys.retries, {keys.task("fr", "t9"): time.time() + 60})
    client.hset(keys.task("fr", "t9"), "q", "q1")
    client.xadd(keys.dead("q1"), {"reason": "test"})
    _enqueue(floq, "enqueued_flows:sum_of_squares", "-p", "n=1", "--queue", "q2")
    rows = {row["queue"]: row for row in json.loads(floq("queues", "--json").stdout)}
    oldest = rows["q1"].pop("oldest_age")  # the first unclaimed one was submitted just now
    assert 0 <= oldest < WAIT, oldest
    assert rows["q2"]["oldest_age"] is None  # nothing waits on q2's stream
    assert rows["q1"] == {
        "queue": "q1", "depth": 2, "claimed": 1, "delayed": 1, "dead": 1,
        "flow_runs_queued": 0, "flow_runs_running": 0,
    }  # fmt: skip
    assert rows["q2"]["flow_runs_queued"] == 1 and rows["q2"]["depth"] == 0
    assert "q1" in floq("queues").stdout


def test_run_shows_live_progress_on_a_terminal() -> None:
    env = clean_env(PYTHONPATH=HERE, COLUMNS="120")
    leader, follower = pty.openpty()
    args = ["run", "enqueued_flows:sum_of_squares", "-p", "n=6"]
    process = subprocess.Popen([*FLOQ_CLI, *args], env=env, stdout=follower, stderr=follower)
    os.close(follower)
    output = _read_all(leader, process)
    assert process.returncode == 0, output
    assert "6/6" in output  # the bar's count of finished task runs
    assert "Completed: 55" in output


def test_run_keeps_its_bar_and_logs_on_stderr(tmp_path: Path) -> None:
    """Under a terminal, stdout carries the result alone: the bar and logs go to stderr."""
    env = clean_env(PYTHONPATH=HERE, COLUMNS="120")
    leader, follower = pty.openpty()
    args = ["run", "enqueued_flows:flaky", "-p", f"counter={tmp_path / 'c'}", "-p", "failures=0"]
    with (tmp_path / "out").open("wb") as out:
        process = subprocess.Popen([*FLOQ_CLI, *args], env=env, stdout=out, stderr=follower)
        os.close(follower)
        terminal = _read_all(leader, process)
    assert process.returncode == 0, terminal
    assert (tmp_path / "out").read_text().splitlines() == ["Completed: 'succeeded on run 1'"]
    assert "flaky" in terminal and "━" in terminal, terminal  # the bar, on stderr


def _read_all(fd: int, process: subprocess.Popen[bytes]) -> str:
    chunks, deadline = [], time.monotonic() + WAIT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the other end closed: the process is gone
                break
            if not chunk:
                break
            chunks.append(chunk)
        elif process.poll() is not None:
            break
    process.wait(timeout=WAIT)
    os.close(fd)
    return b"".join(chunks).decode(errors="replace")
