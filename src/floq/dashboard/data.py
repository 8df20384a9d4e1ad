"""What each dashboard page shows, as plain data: the pages render it, ``/api/`` returns it."""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from floq.errors import FloqError
from floq.producer.flow_run import FlowRun
from floq.producer.listing import per_task, summary, task_rows
from floq.states import State, StateType
from floq.store.flow_runs import FlowRunStore
from floq.store.protocol import DeadLetter, DeadLetters, RunBrowser, RunFilter
from floq.store.protocol.dead_letters import split_id
from floq.store.queues import queue_names, queue_stats

logger = logging.getLogger("floq.dashboard")

RUNS_PER_PAGE = 50
TASK_RUNS_PER_PAGE = 100
TIMELINE_BARS = 2000  # task runs drawn on a run's timeline at most
DEAD_LETTERS_SHOWN = 200  # the newest, over every queue
RESULT_SHOWN = 2000  # characters of a result's repr
SAMPLE_EVERY = 5.0  # seconds between samples of the queues' throughput
SAMPLES_KEPT = 120  # ten minutes of samples
STATE_TYPES = tuple(kind.value for kind in StateType)
RETRYABLE = ("FAILED", "CRASHED", "CANCELLED")


class NotFound(FloqError):
    """A flow run the dashboard was asked for is not stored (never enqueued, or expired)."""


class BadRequest(FloqError):
    """A page was asked for with a filter that names nothing (a state type that is none)."""


@dataclass
class Throughput:
    """Samples of how many entries left each queue's stream, taken as pages are read (at most
    every SAMPLE_EVERY s): per queue, task runs taken per minute between samples."""

    samples: deque[tuple[float, dict[str, int]]] = field(
        default_factory=lambda: deque(maxlen=SAMPLES_KEPT)
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sample(self, browser: RunBrowser, queues: list[str]) -> None:
        now = time.time()
        with self.lock:
            if self.samples and now - self.samples[-1][0] < SAMPLE_EVERY * 0.9:
                return
            self.samples.append((now, browser.taken(queues)))

    def series(self, queue: str) -> list[list[float]]:
        """[[when, task runs per minute], ...] of ``queue``, oldest first."""
        with self.lock:
            samples = list(self.samples)
        found = []
        for (t0, before), (t1, after) in itertools.pairwise(samples):
            if queue in before and queue in after and t1 > t0:
                rate = max(0, after[queue] - before[queue]) * 60 / (t1 - t0)
                found.append([round(t1, 1), round(rate, 1)])
        return found


@dataclass
class Board:
    """What the dashboard reads from: one namespace's store, and the throughput samples."""

    store: FlowRunStore
    url: str
    throughput: Throughput = field(default_factory=Throughput)

    @property
    def browser(self) -> RunBrowser:
        return RunBrowser(self.store.client, self.store.keys)


def sample_forever(board: Board) -> None:
    """Sample the queues' throughput every SAMPLE_EVERY s (a daemon thread of the dashboard),
    so that the chart has the last minutes when the queues page is opened."""
    while True:
        time.sleep(SAMPLE_EVERY)
        try:
            queues = sorted(queue_names(board.store.client, board.store.keys, None))
            board.throughput.sample(board.browser, queues)
        except Exception as error:  # a lost server: the pages say so; try again later
            logger.debug("throughput sample failed: %s", error)


def _number(text: str) -> float | None:
    return float(text) if text else None


def _run_row(row: dict[str, Any]) -> dict[str, Any]:
    created, started, ended = (_number(row[name]) for name in ("created", "started", "ended"))
    seconds = None
    if started is not None:
        seconds = round((ended or time.time()) - started, 3)
    return {
        **row,
        "created": created, "started": started, "ended": ended, "seconds": seconds,
        "attempts": int(row["attempts"] or 0),
    }  # fmt: skip


def runs_page(
    board: Board, state: str | None, flow: str | None, queue: str | None, page: int
) -> dict[str, Any]:
    """A page of flow runs, newest first, filtered; counts by state; the filters' choices."""
    state = state.upper() if state else None
    if state is not None and state not in STATE_TYPES:
        raise BadRequest(f"no state type {state!r}: one of {', '.join(STATE_TYPES)}")
    browser = board.browser
    where = RunFilter(state, flow or None, queue or None)
    total, rows = browser.page(where, (page - 1) * RUNS_PER_PAGE, RUNS_PER_PAGE)
    flows, queues = browser.names()
    return {
        "runs": [_run_row(row) for row in rows],
        "total": total,
        "page": page,
        "pages": max(1, math.ceil(total / RUNS_PER_PAGE)),
        "counts": browser.counts(),
        "filter": {"state": state, "flow": flow or None, "queue": queue or None},
        "flows": flows,
        "queues": queues,
    }


def run_page(board: Board, run_id: str, page: int) -> dict[str, Any]:
    """A flow run: summary, state history, result or error, its task runs (per task and a page
    of them), the timeline of its task runs per worker."""
    run = FlowRun(run_id, board.store, board.url)
    if not run.record():
        raise NotFound(f"no flow run {run_id!r} (never enqueued, or expired)", run_id=run_id)
    head = summary(run)
    rows = task_rows(run)
    start = (page - 1) * TASK_RUNS_PER_PAGE
    return {
        **head,
        **_outcome(run),
        "history": board.browser.history(run_id),
        "task_summary": per_task(rows),
        "task_runs": rows[start : start + TASK_RUNS_PER_PAGE],
        "task_runs_total": len(rows),
        "page": page,
        "pages": max(1, math.ceil(len(rows) / TASK_RUNS_PER_PAGE)),
        "timeline": timeline(rows),
        "can_cancel": head["type"] not in ("COMPLETED", *RETRYABLE),
        "can_retry": head["type"] in RETRYABLE,
    }


def _outcome(run: FlowRun) -> dict[str, Any]:
    """``result`` (a repr) of a Completed run, ``error`` and ``traceback`` of one that did not
    complete; what cannot be decoded here (a type the dashboard cannot import) is said so."""
    try:
        state: State = run.state
    except Exception as failure:  # a result whose type is not importable here, a bad secret
        return {"result": None, "error": f"cannot decode its outcome: {failure}", "traceback": ""}
    if not state.is_final():
        return {"result": None, "error": "", "traceback": ""}
    if state.is_completed():
        shown = repr(state.data)
        if len(shown) > RESULT_SHOWN:
            shown = shown[: RESULT_SHOWN - 3] + "..."
        return {"result": shown, "error": "", "traceback": ""}
    error = state.exception()
    shown_trace = error.__traceback__ or error.__cause__
    text = "".join(traceback.format_exception(error)) if shown_trace else ""
    return {"result": None, "error": f"{type(error).__name__}: {error}", "traceback": text}


def timeline(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The task runs that started, per worker (lanes), for the Gantt chart: offsets in seconds
    from the first start (a run still going ends now); runs that overlapped on one worker
    are drawn on rows of their own within its lane (``row``; the lane has ``rows``)."""
    started = sorted(
        (row for row in rows if row["started"] is not None), key=lambda row: row["started"]
    )[:TIMELINE_BARS]
    if not started:
        return {"start": None, "span": 0, "lanes": []}
    now, origin = time.time(), started[0]["started"]
    lanes: dict[str, list[dict[str, Any]]] = {}
    for row in started:
        end = row["ended"] if row["ended"] is not None else now
        lanes.setdefault(row["worker"] or "?", []).append({
            "name": row["name"], "state": row["state"],
            "from": round(row["started"] - origin, 3),
            "to": round(max(end, row["started"]) - origin, 3),
        })  # fmt: skip
    span = max(bar["to"] for bars in lanes.values() for bar in bars)
    found = [{"worker": name, "bars": bars, "rows": _stack(bars)} for name, bars in lanes.items()]
    return {"start": origin, "span": span, "lanes": sorted(found, key=lambda lane: lane["worker"])}


def _stack(bars: list[dict[str, Any]]) -> int:
    """Give each bar (sorted by start) the first row free when it starts; how many rows."""
    ends: list[float] = []
    for bar in bars:
        free = next((i for i, end in enumerate(ends) if end <= bar["from"]), len(ends))
        ends[free : free + 1] = [bar["to"]]
        bar["row"] = free
    return max(1, len(ends))


def workers_page(board: Board) -> dict[str, Any]:
    return {"workers": board.store.workers.live()}


def queues_page(board: Board) -> dict[str, Any]:
    """Per queue: depth, claimed, delayed retries, dead letters, oldest queued age, flow runs
    queued and running, and the task runs taken per minute lately."""
    store = board.store
    rows = queue_stats(store.client, store.keys, store.rq_or_none)
    board.throughput.sample(board.browser, [row["queue"] for row in rows])
    for row in rows:
        row["throughput"] = board.throughput.series(row["queue"])
    return {"queues": rows}


def dead_letters_page(board: Board) -> dict[str, Any]:
    """The newest dead letters of every queue, with their reasons, newest first."""
    letters = DeadLetters(board.store.client, board.store.keys).list(count=DEAD_LETTERS_SHOWN)
    return {"dead_letters": [_letter_row(letter) for letter in letters]}


def _letter_row(letter: DeadLetter) -> dict[str, Any]:
    row = letter.to_dict()
    row["size"] = row["payload_bytes"] if row["raw"] is None else len(row["raw"])
    return row


def act_on_letters(board: Board, action: str, letter_id: str, queue: str) -> dict[str, Any]:
    """Requeue the letter ``letter_id``, or purge the letters of ``queue`` (every queue if
    empty); what was done."""
    letters = DeadLetters(board.store.client, board.store.keys)
    if action == "requeue":
        try:
            split_id(letter_id)
        except FloqError as error:
            raise BadRequest(str(error)) from error
        done = letters.requeue(letter_id)
        return {"requeued": done.letter_id, "queue": done.queue, "entry": done.entry_id,
                "task_run": done.task_run_id}  # fmt: skip
    if action == "purge":
        return {"purged": letters.purge(queue or None), "queue": queue or None}
    raise NotFound(f"no action {action!r} on dead letters: requeue or purge")


def act(board: Board, run_id: str, action: str) -> dict[str, Any]:
    """Cancel or retry a flow run; its id and the state it is in then."""
    if action not in ("cancel", "retry"):
        raise NotFound(f"no action {action!r} on a flow run: cancel or retry")
    run = FlowRun(run_id, board.store, board.url)
    if not run.record():
        raise NotFound(f"no flow run {run_id!r} (never enqueued, or expired)", run_id=run_id)
    state = run.cancel() if action == "cancel" else run.retry()
    return {"id": run_id, "state": state.name, "type": state.type.value, "message": state.message}
