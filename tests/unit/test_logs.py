"""Run loggers and log_prints."""

from __future__ import annotations

import ast
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from floq import flow, get_run_logger, task
from floq.errors import MissingContextError


@pytest.fixture
def floq_records(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog that also sees floq's loggers (floq may stop them propagating to the root)."""
    floq_logger = logging.getLogger("floq")
    propagate = floq_logger.propagate
    floq_logger.addHandler(caplog.handler)
    floq_logger.propagate = False  # each record reaches caplog once, by this route only
    caplog.set_level(logging.INFO, logger="floq")
    try:
        yield caplog
    finally:
        floq_logger.removeHandler(caplog.handler)
        floq_logger.propagate = propagate


def messages(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger]


def test_get_run_logger_outside_a_run() -> None:
    with pytest.raises(MissingContextError, match="get_run_logger"):
        get_run_logger()


def test_get_run_logger_outside_a_run_is_also_a_runtime_error() -> None:
    with pytest.raises(RuntimeError):
        get_run_logger()


def test_flow_logger(floq_records: pytest.LogCaptureFixture) -> None:
    names: list[str] = []

    @flow
    def my_flow() -> None:
        logger = get_run_logger()
        names.append(logger.logger.name)
        logger.info("from the flow body")

    my_flow()
    assert names == ["floq.flow_runs"]
    (message,) = [m for m in messages(floq_records, "floq.flow_runs") if "from the flow" in m]
    assert message.startswith("my_flow-")
    assert message.endswith(" | from the flow body")
    record = next(r for r in floq_records.records if r.getMessage() == message)
    assert record.flow_run_name.startswith("my_flow-")


def test_task_logger_inside_a_flow(floq_records: pytest.LogCaptureFixture) -> None:
    @task(task_run_name="worker-{n}")
    def work(n: int) -> None:
        get_run_logger().warning("task says %s", n)

    @flow
    def my_flow() -> None:
        work.submit(3)

    my_flow()
    assert "worker-3 | task says 3" in messages(floq_records, "floq.task_runs")
    record = next(r for r in floq_records.records if r.getMessage().endswith("task says 3"))
    assert record.flow_run_id is not None
    assert record.levelno == logging.WARNING


def test_log_prints_on_a_flow(
    floq_records: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    @task
    def task_prints() -> None:
        print("printed in task")

    @flow(log_prints=True)
    def my_flow() -> None:
        print("printed in flow")
        task_prints.submit()
        task_prints()

    my_flow()
    out = capsys.readouterr().out
    assert "printed in flow" not in out
    assert "printed in task" not in out
    flow_messages = messages(floq_records, "floq.flow_runs")
    task_messages = messages(floq_records, "floq.task_runs")
    assert sum(m.endswith("| printed in flow") for m in flow_messages) == 1
    assert sum(m.endswith("| printed in task") for m in task_messages) == 2


def test_log_prints_on_a_task_only(
    floq_records: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    @task(log_prints=True)
    def loud() -> None:
        print("to the logger", 1, 2)

    @task
    def quiet() -> None:
        print("to stdout")

    @flow
    def my_flow() -> None:
        print("flow print to stdout")
        loud.submit()
        quiet.submit()

    my_flow()
    out = capsys.readouterr().out
    assert "to stdout\n" in out
    assert "flow print to stdout\n" in out
    assert "to the logger" not in out
    assert any(m.endswith("| to the logger 1 2") for m in messages(floq_records, "floq.task_runs"))


def test_task_can_opt_out_of_its_flows_log_prints(
    floq_records: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    @task(log_prints=False)
    def opted_out() -> None:
        print("opted out print")

    @flow(log_prints=True)
    def my_flow() -> None:
        opted_out.submit()

    my_flow()
    assert "opted out print\n" in capsys.readouterr().out
    assert not any("opted out print" in r.getMessage() for r in floq_records.records)


def test_print_without_log_prints_goes_to_stdout(
    floq_records: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    @task
    def plain() -> None:
        print("plain task print")

    @flow
    def my_flow() -> None:
        print("plain flow print")
        plain.submit()

    my_flow()
    out = capsys.readouterr().out
    assert "plain task print\n" in out
    assert "plain flow print\n" in out
    assert not any("plain" in r.getMessage() for r in floq_records.records)


def test_print_to_another_file_is_not_captured(
    floq_records: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    @flow(log_prints=True)
    def my_flow() -> None:
        print("to stderr", file=sys.stderr)

    my_flow()
    assert "to stderr\n" in capsys.readouterr().err
    assert not any("to stderr" in r.getMessage() for r in floq_records.records)


def test_print_outside_any_run_is_untouched(capsys: pytest.CaptureFixture[str]) -> None:
    @flow(log_prints=True)
    def my_flow() -> None:
        pass

    my_flow()  # installs floq's print
    print("after the flow", end="!")
    assert capsys.readouterr().out.endswith("after the flow!")


def _ends(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The runs' ERROR records (a run that ended without completing)."""
    return [r for r in caplog.records if r.name == "floq.runs" and r.levelno == logging.ERROR]


@pytest.mark.parametrize("how", ["return_state", "handled"])
def test_a_failed_flow_logs_one_error_line_without_traceback(
    floq_records: pytest.LogCaptureFixture, how: str
) -> None:
    @flow
    def broken() -> None:
        raise ValueError("broken flow")

    if how == "return_state":
        assert broken(return_state=True).is_failed()
    else:
        with pytest.raises(ValueError, match="broken flow"):
            broken()
    [end] = _ends(floq_records)
    assert end.exc_info is None and end.exc_text is None
    assert "flow 'broken'" in end.getMessage()
    assert "Failed(FAILED" in end.getMessage() and "ValueError: broken flow" in end.getMessage()


def test_a_failed_task_logs_its_traceback_once_and_its_flow_one_line(
    floq_records: pytest.LogCaptureFixture,
) -> None:
    @task
    def bad() -> None:
        raise KeyError("bad task")

    @flow
    def with_bad_task() -> None:
        bad.submit()

    assert with_bad_task(return_state=True).is_failed()
    task_end, flow_end = _ends(floq_records)
    assert "task 'bad'" in task_end.getMessage()
    assert task_end.exc_info is not None and task_end.exc_info[0] is KeyError
    assert "flow 'with_bad_task'" in flow_end.getMessage() and flow_end.exc_info is None
    assert [r.exc_info is not None for r in floq_records.records].count(True) == 1


def test_a_timed_out_task_logs_no_traceback(floq_records: pytest.LogCaptureFixture) -> None:
    release = threading.Event()

    @task(timeout_seconds=0.05)
    def stuck() -> None:
        release.wait(5)

    @flow
    def waits() -> None:
        stuck.submit()

    try:
        assert waits(return_state=True).is_failed()
    finally:
        release.set()
    task_end = _ends(floq_records)[0]
    assert "TimedOut" in task_end.getMessage() and task_end.exc_info is None


RETRYING_FLOW = """
from floq import flow, task

calls = []

@task(retries=1)
def flaky():
    calls.append(1)
    if len(calls) % 2:
        raise ValueError("first try fails")
    return 42

@flow
def retrying():
    return flaky()
"""

TWO_INVOCATIONS = """
import sys
from click.testing import CliRunner
from floq.cli import floq_cli

for _ in range(2):
    print(repr(CliRunner().invoke(floq_cli, ["run", "retrying_flow:retrying"]).output))
"""


def test_each_floq_run_shows_its_retry_warning_before_its_result(tmp_path: Path) -> None:
    """floq's log handler writes to the stderr of the moment, not the one it was installed with
    (there, the second run's WARNING went to the first run's stream, after its result)."""
    (tmp_path / "retrying_flow.py").write_text(RETRYING_FLOW)
    done = subprocess.run(
        [sys.executable, "-c", TWO_INVOCATIONS],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    outputs = [ast.literal_eval(line) for line in done.stdout.splitlines()]
    assert len(outputs) == 2
    for output in outputs:
        assert output.count("WARNING") == 1, outputs
        assert output.index("retry 1 in 0s") < output.index("Completed: 42"), outputs


def test_json_lines_carry_the_exception_and_the_worker() -> None:
    import json
    import sys

    from floq.logs import JsonFormatter, set_worker_name

    set_worker_name("w-json")
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            record = logging.LogRecord("floq.x", logging.ERROR, __file__, 1, "failed %s", ("x",),
                                       sys.exc_info())  # fmt: skip
        line = json.loads(JsonFormatter().format(record))
    finally:
        set_worker_name("")
    assert line["message"] == "failed x" and line["level"] == "ERROR"
    assert line["worker"] == "w-json"
    assert "ValueError: boom" in line["exception"]
    assert "flow_run_id" not in line  # logged outside any run
