"""``floq runs``, ``inspect``, ``watch``, ``cancel``, ``workers``, ``queues``: looking at runs."""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any

import click

from floq import views
from floq.cli.app import emit, fetch_run, floq_cli, open_store, server_options
from floq.producer.flow_run import WorkerCheck
from floq.states import State

_LOST_EVERY = 2.0  # seconds between looks for task runs held by lost workers in `floq watch`


@floq_cli.command("runs")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@server_options
def runs_command(limit: int, as_json: bool, url: str | None, namespace: str | None) -> None:
    """Recent enqueued flow runs: state, duration, task runs."""
    from floq.producer.listing import recent

    emit(recent(open_store(url, namespace), limit), as_json, views.runs_table)


@floq_cli.command("inspect")
@click.argument("run_id", metavar="ID")
@click.option("--all", "every", is_flag=True, help="list every task run, not a summary per task")
@click.option("--state", help="only task runs in this state (Failed, Running, lost, ...); lists")
@click.option("--limit", type=click.IntRange(min=1), help="list at most this many task runs")
@click.option("--json", "as_json", is_flag=True, help="print JSON (summary and task runs)")
@server_options
def inspect_command(
    run_id: str, every: bool, state: str | None, limit: int | None, as_json: bool,
    url: str | None, namespace: str | None,
) -> None:  # fmt: skip
    """A flow run: state, message, and its task runs summed up per task (count by state,
    min / median / max duration, failures first); --all, --state or --limit list them."""
    from floq.producer.listing import inspection

    data = inspection(fetch_run(run_id, url, namespace), state=state, limit=limit)
    listed = every or state is not None or limit is not None
    emit(data, as_json, lambda rows: views.inspection(rows, every=listed))


@floq_cli.command("watch")
@click.argument("run_id", metavar="ID")
@click.option("--timeout", type=click.FloatRange(min=0), help="give up after this many seconds")
@server_options
def watch_command(
    run_id: str, timeout: float | None, url: str | None, namespace: str | None
) -> None:
    """Follow a flow run live until it ends; print its final state and message; exit 0 if it
    completed."""
    run = fetch_run(run_id, url, namespace)
    deadline = None if timeout is None else time.monotonic() + timeout
    tally = _Tally(run)
    if sys.stderr.isatty():
        with views.task_progress() as progress:
            state = _watch(run, deadline, views.follow(progress, run_id, tally))
    else:
        state = _watch(run, deadline, _line_printer(tally))
    click.echo(f"{state.name}: {state.message}" if state.message else state.name)
    sys.exit(0 if state.is_completed() else 1)


class _Tally:
    """(finished, submitted, 'State n completed, ...') of a flow run's task runs, for the
    bar; ``state`` and ``lost`` (runs that lost workers hold while the flow runs: looked up
    at most every few seconds, as that reads every task run) for lines off a terminal."""

    def __init__(self, run: Any) -> None:
        self._run, self._due = run, 0.0
        self.state = self.lost = ""

    def __call__(self) -> tuple[int, int, str]:
        from floq.producer.listing import summary

        info = summary(self._run)
        tasks = info["tasks"]
        finished = sum(n for kind, n in tasks.items() if kind != "submitted")
        counts = ", ".join(f"{n} {kind}" for kind, n in tasks.items() if kind != "submitted" and n)
        self.state = info["state"]
        if info["type"] != "RUNNING":
            self.lost = ""
        elif time.monotonic() >= self._due:
            began = time.monotonic()
            self.lost = _lost_workers(self._run)
            took = time.monotonic() - began  # at most a tenth of the time goes to this look
            self._due = time.monotonic() + max(_LOST_EVERY, 10 * took)
        lost = f"; {self.lost}" if self.lost else ""
        return finished, tasks["submitted"], f"{self.state} {counts}{lost}"


def _lost_workers(run: Any) -> str:
    from floq.producer.listing import task_rows

    lost = Counter(row["worker"] for row in task_rows(run) if row["worker_lost"])
    return ", ".join(f"{n} Running (worker {name} lost)" for name, n in lost.items())


def _line_printer(tally: _Tally) -> Any:
    last: list[str] = []

    def refresh() -> None:
        finished, total, _ = tally()
        line = f"{tally.state}: {finished}/{total} task runs finished"
        if tally.lost:
            line += f"; {tally.lost}"
        if line not in last[-1:]:
            click.echo(line)
            last.append(line)

    return refresh


def _watch(run: Any, deadline: float | None, refresh: Any) -> State:
    check = WorkerCheck(run, at_end=False)  # shared by the short waits; a timeout says why
    while True:
        refresh()
        left = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
        if left <= 0:
            raise click.ClickException(run.still(run.state))
        state: State = run.wait(left, check=check)  # returns at once when the run ends
        if state.is_final():
            refresh()
            return state


@floq_cli.command("cancel")
@click.argument("run_id", metavar="ID")
@server_options
def cancel_command(run_id: str, url: str | None, namespace: str | None) -> None:
    """Cancel a flow run: its queued task runs never run, a running flow is stopped."""
    state = fetch_run(run_id, url, namespace).cancel()
    click.echo(f"{run_id}: {state.name}")


@floq_cli.command("retry")
@click.argument("run_id", metavar="ID")
@server_options
def retry_command(run_id: str, url: str | None, namespace: str | None) -> None:
    """Run a Failed, Crashed or Cancelled flow run again: a new attempt of the same call, which
    reuses the task runs earlier attempts completed."""
    state = fetch_run(run_id, url, namespace).retry()
    click.echo(f"{run_id}: {state.name}")


@floq_cli.command("workers")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@server_options
def workers_command(as_json: bool, url: str | None, namespace: str | None) -> None:
    """Live workers: host, pid, mode, slots, in flight, last heartbeat."""
    store = open_store(url, namespace)
    emit(store.workers.live(), as_json, views.workers_table)


@floq_cli.command("queues")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@server_options
def queues_command(as_json: bool, url: str | None, namespace: str | None) -> None:
    """Per queue: task runs waiting and claimed, delayed retries, dead letters, flow runs."""
    from floq.store.queues import queue_stats

    store = open_store(url, namespace)
    emit(queue_stats(store.client, store.keys, store.rq_or_none), as_json, views.queues_table)
