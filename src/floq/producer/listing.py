"""Flow runs in plain data: what `floq runs`, `floq inspect` and `floq watch` show (and --json)."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from dataclasses import fields
from typing import Any

from floq.producer.flow_run import FlowRun
from floq.store.flow_runs import FlowRunStore, TaskRunRow

COUNTS = ("SUBMITTED", "COMPLETED", "FAILED", "CRASHED", "CANCELLED")
_FAILURES = ("Failed", "Crashed", "TimedOut", "NotReady")
_ROW_FIELDS = tuple(f.name for f in fields(TaskRunRow))


def _field(record: dict[str, bytes], name: str) -> str:
    return record.get(name, b"").decode()


def _time(record: dict[str, bytes], name: str) -> float | None:
    raw = _field(record, name)
    return float(raw) if raw else None


def summary(run: FlowRun) -> dict[str, Any]:
    """The flow run's state, timings and counts of its task runs by state."""
    record, state = run.record(), run.state
    started, ended = _time(record, "started"), _time(record, "ended")
    if started is not None and ended is None and state.is_final():
        ended = float(_field(record, "ts") or started)
    seconds = None if started is None else (ended or time.time()) - started
    return {
        "id": run.id,
        "flow": _field(record, "flow"),
        "state": state.name,
        "type": state.type.value,
        "message": state.message,
        "queue": _field(record, "queue"),
        "description": _field(record, "description"),
        "worker": _field(record, "worker"),
        "attempts": int(_field(record, "attempts") or 0),
        "created": _time(record, "created"),
        "started": started,
        "ended": ended,
        "seconds": None if seconds is None else round(seconds, 3),
        "tasks": FlowRunStore.task_counts(record, COUNTS),
    }


def recent(store: FlowRunStore, limit: int) -> list[dict[str, Any]]:
    """Summaries of the most recently enqueued flow runs that still have a record."""
    rows = []
    for run_id in store.recent(limit):
        run = FlowRun(run_id, store)
        if run.record():
            rows.append(summary(run))
    return rows


def inspection(
    run: FlowRun, *, state: str | None = None, limit: int | None = None
) -> dict[str, Any]:
    """The flow run's summary, its task runs summed up per task (``task_summary``) and the
    task runs themselves (``task_runs``: those in ``state`` if given, at most ``limit``)."""
    rows = task_rows(run)
    if state is not None:
        rows = [row for row in rows if _in_state(row, state)]
    return {
        **summary(run),
        "task_summary": per_task(rows),
        "task_runs": rows if limit is None else rows[:limit],
    }


def task_rows(run: FlowRun) -> list[dict[str, Any]]:
    """Every task run of the flow run as plain data; a run held by a worker whose heartbeat
    lapsed is marked ``worker_lost``.

    Default task-run names are ``<task>-<k>`` (the k-th run of the task in its flow run; for
    one ``.map()``, its index: ``square-17``); names given with ``task_run_name`` are shown as
    given, and grouped under the first such name of their task's code."""
    rows = run.task_runs()
    live = {str(w["name"]) for w in run.store.workers.live()}
    labels: dict[str, str] = {}
    found = []
    for row in rows:
        task = labels.setdefault(row.code, _task_of(row.name))
        found.append({
            **{name: getattr(row, name) for name in _ROW_FIELDS},  # asdict: 3x slower
            "task": task,
            "seconds": row.seconds,
            "worker_lost": row.state == "Running" and row.worker not in live,
        })  # fmt: skip
    return found


def _task_of(name: str) -> str:
    """``square`` of ``square-17``; a name without a number stands for itself."""
    task, _, number = name.rpartition("-")
    return task if task and number.isdigit() else name


def _in_state(row: dict[str, Any], state: str) -> bool:
    wanted = state.lower()
    return row["state"].lower() == wanted or (wanted == "lost" and row["worker_lost"])


def state_label(row: dict[str, Any]) -> str:
    """The task run's state as shown: ``Running (worker w1 lost)`` for a lost worker's run."""
    if row["worker_lost"]:
        return f"{row['state']} (worker {row['worker']} lost)"
    return str(row["state"])


def per_task(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per task: how many runs in each state (failures first), durations, the first error.

    Runs of one task share its code's address; tasks with failures come first."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["code"] or row["task"], []).append(row)
    found = [_group(members) for members in groups.values()]
    return sorted(found, key=lambda group: -group["failed"])


def _group(rows: list[dict[str, Any]]) -> dict[str, Any]:
    counts = Counter(state_label(row) if row["worker_lost"] else row["state"] for row in rows)
    ordered = sorted(counts.items(), key=lambda item: (item[0] not in _FAILURES, -item[1]))
    seconds = sorted(row["seconds"] for row in rows if row["seconds"] is not None)
    failed = [row for row in rows if row["state"] in _FAILURES]
    return {
        "task": rows[0]["task"],
        "runs": len(rows),
        "states": dict(ordered),
        "failed": len(failed),
        "attempts": sum(row["attempts"] for row in rows),
        "min": seconds[0] if seconds else None,
        "median": statistics.median(seconds) if seconds else None,
        "max": seconds[-1] if seconds else None,
        "first_error": f"{failed[0]['name']}: {failed[0]['message']}" if failed else "",
    }
