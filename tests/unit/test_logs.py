"""Run loggers and log_prints."""

from __future__ import annotations

import logging
from collections.abc import Iterator

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
