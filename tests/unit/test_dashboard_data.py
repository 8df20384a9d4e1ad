"""The dashboard's pure parts: the throughput series from samples, the timeline's rows."""

from __future__ import annotations

from typing import Any

from floq.dashboard.data import Throughput, timeline


def test_throughput_is_task_runs_taken_per_minute_between_samples() -> None:
    meter = Throughput()
    meter.samples.extend([(100.0, {"a": 10}), (105.0, {"a": 20, "b": 1}), (110.0, {"a": 20})])
    assert meter.series("a") == [[105.0, 120.0], [110.0, 0.0]]
    assert meter.series("b") == []  # never in two samples in a row


def _row(name: str, worker: str, started: float, ended: float | None) -> dict[str, Any]:
    return {"name": name, "worker": worker, "state": "Completed", "started": started,
            "ended": ended}  # fmt: skip


def test_the_timeline_puts_overlapping_task_runs_of_a_worker_on_rows_of_their_own() -> None:
    rows = [
        _row("a", "w1", 10.0, 12.0), _row("b", "w1", 11.0, 13.0), _row("c", "w1", 12.0, 14.0),
        _row("d", "w2", 10.5, 11.0), {**_row("e", "w2", 0, 0), "started": None},
    ]  # fmt: skip
    drawn = timeline(rows)
    assert drawn["start"] == 10.0 and drawn["span"] == 4.0
    w1, w2 = drawn["lanes"]
    assert (w1["worker"], w1["rows"], [bar["row"] for bar in w1["bars"]]) == ("w1", 2, [0, 1, 0])
    assert (w2["rows"], w2["bars"][0]["from"], w2["bars"][0]["to"]) == (1, 0.5, 1.0)
    assert timeline([]) == {"start": None, "span": 0, "lanes": []}


def test_the_dashboard_token_comes_from_the_flag_over_the_environment() -> None:
    from floq.settings import Settings

    from_env = Settings.from_env({"FLOQ_DASHBOARD_TOKEN": "from-env"})
    assert from_env.dashboard_token == "from-env" and "from-env" not in repr(from_env)
    assert from_env.replace(dashboard_token="from-flag").dashboard_token == "from-flag"
    assert from_env.replace(dashboard_token=None).dashboard_token == "from-env"
    assert Settings.from_env({}).dashboard_token is None
