"""`flow-worker --log-format json`: every line a JSON object; a run's lines carry its ids, task,
attempt and worker, in the worker and in its pool processes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from floq import flow, get_run_logger, task

cloudpickle.register_pickle_by_value(sys.modules[__name__])


@task(retries=1, retry_delay_seconds=0)
def fails_once(marker: str) -> str:
    first = not Path(marker).exists()
    Path(marker).write_text("seen")
    get_run_logger().info("attempting, first=%s", first)
    if first:
        raise RuntimeError("the first attempt fails on purpose")
    return "done"


@pytest.mark.parametrize("mode", ["concurrent", "parallel"])
def test_json_log_lines_carry_the_run(mode: str, runner: Any, workers: Any, tmp_path: Path) -> None:
    sized = ["--processes", "1"] if mode == "parallel" else ["--concurrency", "1"]
    workers.start("--mode", mode, *sized, "--log-format", "json", "--name", "wj")
    workers.wait_registered(1)
    seen: dict[str, Any] = {}

    @flow(task_runner=runner)
    def logged() -> str:
        future = fails_once.submit(str(tmp_path / "marker"))
        seen["run"] = future.task_run
        return future.result()

    assert logged() == "done"
    workers.stop()
    text = workers.logs()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # each parses
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines), text
    mine = [line for line in lines if "attempting" in line["message"]]
    run = seen["run"]
    assert [line["attempt"] for line in mine] == [1, 2], mine
    for line in mine:
        assert line["task_run_id"] == run.id and line["flow_run_id"] == run.flow_run_id, line
        assert line["task"] == "fails_once" and line["worker"] == "wj", line
    retried = [line for line in lines if "fails on purpose" in line["message"]]
    assert retried and all(line["task_run_id"] == run.id for line in retried), lines


def test_a_bad_log_format_is_named(workers: Any) -> None:
    process = workers.start(FLOQ_LOG_FORMAT="yaml")
    assert process.wait(timeout=30) != 0
    assert "FLOQ_LOG_FORMAT must be one of text, json, got 'yaml'" in workers.logs()
    assert "Traceback" not in workers.logs()
