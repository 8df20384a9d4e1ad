"""`floq run MODULE:FLOW -p key=value` runs a flow here and prints its final state."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from floq.cli import floq_cli


@pytest.fixture
def module_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "cli_flows.py").write_text(
        textwrap.dedent(
            """
            from floq import flow, task

            @task
            def double(x):
                return 2 * x

            @flow
            def doubled(x, label="n"):
                return {label: double(x)}

            @flow
            def broken():
                raise RuntimeError("no luck")

            not_a_flow = 3
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_run_prints_the_result(module_dir: Path) -> None:
    result = CliRunner().invoke(
        floq_cli, ["run", "cli_flows:doubled", "-p", "x=21", "-p", "label=v"]
    )
    assert result.exit_code == 0, result.output
    assert "Completed: {'v': 42}" in result.output


def test_run_of_a_failing_flow_exits_non_zero(module_dir: Path) -> None:
    result = CliRunner().invoke(floq_cli, ["run", "cli_flows:broken"])
    assert result.exit_code == 1
    assert "Failed" in result.output


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("cli_flows", "module:flow"),
        ("cli_flows:nope", "cannot load"),
        ("cli_flows:not_a_flow", "not a @flow"),
    ],
)
def test_bad_targets_are_named(module_dir: Path, target: str, message: str) -> None:
    result = CliRunner().invoke(floq_cli, ["run", target])
    assert result.exit_code == 2
    assert message in result.output
    assert target in result.output


def test_floq_and_redis_errors_are_one_line_messages() -> None:
    import click
    import redis

    from floq.cli.app import FloqCommand
    from floq.errors import ConfigurationError

    raised: list[BaseException] = [
        ConfigurationError("FLOQ_X must be y"),
        redis.ResponseError("WRONGTYPE Operation against a key\nholding the wrong kind of value"),
    ]

    @click.command(cls=FloqCommand)
    def command() -> None:
        raise raised.pop(0)

    first = CliRunner().invoke(command, [])
    assert (first.exit_code, first.output) == (1, "Error: FLOQ_X must be y\n")
    second = CliRunner().invoke(command, [])
    assert second.exit_code == 1
    assert second.output == (
        "Error: Redis: ResponseError: WRONGTYPE Operation against a key holding the wrong kind "
        "of value\n"
    )


def _row(i: int, state: str, seconds: float | None, **extra: object) -> dict[str, object]:
    row = {
        "id": f"t{i}", "name": f"square-{i}", "task": "square", "code": "c1", "state": state,
        "attempts": 1, "worker": "w1", "message": "", "seconds": seconds, "worker_lost": False,
    }  # fmt: skip
    return {**row, **extra}


def test_per_task_counts_states_failures_first_with_durations() -> None:
    from floq.producer.listing import per_task, state_label

    rows = [
        _row(0, "Completed", 1.0), _row(1, "Completed", 3.0), _row(2, "Completed", 2.0),
        _row(3, "Failed", 0.5, message="boom", attempts=3),
        _row(4, "Running", None, worker_lost=True),
        {**_row(5, "Completed", 9.0), "task": "total", "name": "total-0", "code": "c2"},
    ]  # fmt: skip
    assert state_label(rows[4]) == "Running (worker w1 lost)"
    square, total = per_task(rows)  # the task with a failure comes first
    assert (square["task"], square["runs"], square["attempts"]) == ("square", 5, 7)
    assert list(square["states"].items()) == [
        ("Failed", 1), ("Completed", 3), ("Running (worker w1 lost)", 1)
    ]  # fmt: skip
    assert (square["min"], square["median"], square["max"]) == (0.5, 1.5, 3.0)
    assert square["first_error"] == "square-3: boom"
    assert (total["task"], total["runs"], total["failed"]) == ("total", 1, 0)
