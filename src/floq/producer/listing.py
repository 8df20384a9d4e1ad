"""Flow runs in plain data: what `floq runs`, `floq inspect` and `floq watch` show (and --json)."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from floq.producer.flow_run import FlowRun
from floq.store.flow_runs import FlowRunStore

COUNTS = ("SUBMITTED", "COMPLETED", "FAILED", "CRASHED", "CANCELLED")


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
        "tasks": {name.lower(): int(_field(record, f"n:{name}") or 0) for name in COUNTS},
    }


def recent(store: FlowRunStore, limit: int) -> list[dict[str, Any]]:
    """Summaries of the most recently enqueued flow runs that still have a record."""
    rows = []
    for run_id in store.recent(limit):
        run = FlowRun(run_id, store)
        if run.record():
            rows.append(summary(run))
    return rows


def inspection(run: FlowRun) -> dict[str, Any]:
    """The flow run's summary and every one of its task runs."""
    rows = run.task_runs()
    return {**summary(run), "task_runs": [{**asdict(row), "seconds": row.seconds} for row in rows]}
