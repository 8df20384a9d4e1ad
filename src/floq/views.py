"""How the `floq` command shows things (rich): tables of flow runs, task runs, workers and
queues, and the live progress of a flow run's task runs."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from rich.console import Console, Group
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from floq.states import State

_STYLES = {
    "COMPLETED": "green", "FAILED": "red", "CRASHED": "magenta", "CANCELLED": "yellow",
    "RUNNING": "cyan", "PENDING": "dim", "SCHEDULED": "blue",
}  # fmt: skip


def console() -> Console:
    """stdout; wide enough off a terminal that ids and messages are not cut."""
    return Console(width=None if sys.stdout.isatty() else 200, highlight=False)


def _when(stamp: float | None) -> str:
    return "" if stamp is None else datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S")


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}s"


def _state(name: str, kind: str = "") -> str:
    style = _STYLES.get(kind.upper(), _STYLES.get(name.upper(), ""))
    return f"[{style}]{name}[/]" if style else name


def _counts(tasks: dict[str, int]) -> str:
    done = [f"{n} {k}" for k, n in tasks.items() if k != "submitted" and n]
    return f"{tasks.get('submitted', 0)} ({', '.join(done)})" if done else str(tasks["submitted"])


def _table(*columns: str) -> Table:
    table = Table(show_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column, no_wrap=column in ("id", "flow run", "name"))
    return table


def runs_table(rows: Iterable[dict[str, Any]]) -> Table:
    table = _table("id", "flow", "state", "queue", "created", "duration", "task runs")
    for row in rows:
        table.add_row(
            row["id"], row["flow"], _state(row["state"], row["type"]), row["queue"],
            _when(row["created"]), _seconds(row["seconds"]), _counts(row["tasks"]),
        )  # fmt: skip
    return table


def inspection(data: dict[str, Any], every: bool = False) -> Group:
    """A flow run: its head, its state message in full, then its task runs summed up per
    task, or (``every``) one line per task run."""
    head = _table("flow run", "flow", "state", "attempts", "worker", "started", "duration")
    head.add_row(
        data["id"], data["description"] or data["flow"], _state(data["state"], data["type"]),
        str(data["attempts"]), data["worker"], _when(data["started"]), _seconds(data["seconds"]),
    )  # fmt: skip
    parts: list[Any] = [head]
    if data["message"]:
        parts.append(Text(f"message: {data['message']}"))
    total = sum(group["runs"] for group in data["task_summary"])
    if every:
        shown = len(data["task_runs"])
        more = f", {shown} shown" if shown < total else ""
        parts += [f"\n{total} task run(s){more}", _task_runs(data["task_runs"])]
    else:
        parts += [f"\n{total} task run(s) (--all lists each)", _per_task(data["task_summary"])]
    return Group(*parts)


def _task_runs(rows: Iterable[dict[str, Any]]) -> Table:
    from floq.producer.listing import state_label

    table = _table(
        "task run", "name", "state", "attempts", "worker", "started", "duration", "error"
    )
    for row in rows:
        table.add_row(
            row["id"], row["name"], _state(state_label(row), row["state"]), str(row["attempts"]),
            row["worker"], _when(row["started"]), _seconds(row["seconds"]), Text(row["message"]),
        )  # fmt: skip
    return table


def _per_task(groups: Iterable[dict[str, Any]]) -> Table:
    table = _table("task", "runs", "states", "attempts", "min", "median", "max", "first error")
    for group in groups:
        states = ", ".join(f"{n} {_state(name)}" for name, n in group["states"].items())
        table.add_row(
            group["task"], str(group["runs"]), states, str(group["attempts"]),
            _seconds(group["min"]), _seconds(group["median"]), _seconds(group["max"]),
            Text(group["first_error"]),
        )  # fmt: skip
    return table


def _flow_slots(row: dict[str, Any]) -> str:
    """``2 (pid 41, 42)``: how many flow slots, and the pids of the running ones."""
    pids = [str(slot["pid"]) for slot in row.get("flow_slot_workers", [])]
    count = str(row.get("flow_slots", 0))
    return f"{count} (pid {', '.join(pids)})" if pids else count


def workers_table(rows: Iterable[dict[str, Any]]) -> Table:
    columns = ("name", "host", "pid", "mode", "slots", "flow slots", "in flight", "queues")
    table = _table(*columns, "last heartbeat")
    for row in rows:
        table.add_row(
            row["name"], row["host"], str(row["pid"]), row["mode"], str(row["slots"]),
            _flow_slots(row), str(row["inflight"]), ",".join(row["queues"]),
            f"{row['seen']:.1f}s ago",
        )  # fmt: skip
    return table


def queues_table(rows: Iterable[dict[str, Any]]) -> Table:
    columns = ("queue", "depth", "oldest queued", "claimed", "delayed retries", "dead letters")
    table = _table(*columns, "flow runs queued", "flow runs running")
    for row in rows:
        age = row.get("oldest_age")
        oldest = "-" if age is None else f"{age:.1f}s"
        values = (row["claimed"], row["delayed"], row["dead"])
        table.add_row(
            row["queue"], str(row["depth"]), oldest, *map(str, values),
            str(row["flow_runs_queued"]), str(row["flow_runs_running"]),
        )  # fmt: skip
    return table


def task_progress() -> Progress:
    """A live bar on stderr (shown when stderr is a terminal): logs written meanwhile stay on
    stderr, above the bar, and stdout carries only the result."""
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"), TimeElapsedColumn(),
        console=Console(stderr=True, highlight=False),
    )  # fmt: skip


def count_states(states: Iterable[State]) -> tuple[int, int, str]:
    """(finished, total, 'n completed, n failed, ...') of some task runs' states."""
    counts: dict[str, int] = {}
    total = finished = 0
    for state in states:
        total += 1
        finished += state.is_final()
        counts[state.type.value.lower()] = counts.get(state.type.value.lower(), 0) + 1
    return finished, total, ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))


def follow(progress: Progress, label: str, poll: Callable[[], tuple[int, int, str]]) -> Any:
    """Add a bar to ``progress`` and return a function that refreshes it from ``poll()``."""
    bar = progress.add_task(label, total=None, counts="")

    def refresh() -> None:
        finished, total, counts = poll()
        progress.update(bar, completed=finished, total=max(total, 1), counts=counts)

    return refresh


def every(seconds: float, refresh: Callable[[], None], until: Callable[[], bool]) -> None:
    """Call ``refresh`` every ``seconds`` until ``until()`` is true (then once more)."""
    while not until():
        refresh()
        time.sleep(seconds)
    refresh()
