"""``floq runs``, ``inspect``, ``watch``, ``cancel``, ``workers``, ``queues``: looking at runs."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from floq import views
from floq.cli.app import emit, fetch_run, floq_cli, open_store, server_options
from floq.states import State


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
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@server_options
def inspect_command(run_id: str, as_json: bool, url: str | None, namespace: str | None) -> None:
    """A flow run and every one of its task runs: states, attempts, timings, workers, errors."""
    from floq.producer.listing import inspection

    emit(inspection(fetch_run(run_id, url, namespace)), as_json, views.inspection)


@floq_cli.command("watch")
@click.argument("run_id", metavar="ID")
@click.option("--timeout", type=click.FloatRange(min=0), help="give up after this many seconds")
@server_options
def watch_command(
    run_id: str, timeout: float | None, url: str | None, namespace: str | None
) -> None:
    """Follow a flow run live until it ends; exit 0 if it completed."""
    run = fetch_run(run_id, url, namespace)
    deadline = None if timeout is None else time.monotonic() + timeout
    if sys.stdout.isatty():
        with views.task_progress() as progress:
            state = _watch(run, deadline, views.follow(progress, run_id, lambda: _tally(run)))
    else:
        state = _watch(run, deadline, _line_printer(run))
    click.echo(f"{state.name}: {state.message}" if state.message else state.name)
    sys.exit(0 if state.is_completed() else 1)


def _tally(run: Any) -> tuple[int, int, str]:
    from floq.producer.listing import summary

    info = summary(run)
    tasks = info["tasks"]
    finished = sum(n for kind, n in tasks.items() if kind != "submitted")
    counts = ", ".join(f"{n} {kind}" for kind, n in tasks.items() if kind != "submitted" and n)
    return finished, tasks["submitted"], f"{info['state']} {counts}"


def _line_printer(run: Any) -> Any:
    last: list[str] = []

    def refresh() -> None:
        finished, total, counts = _tally(run)
        line = f"{counts.split(' ')[0]}: {finished}/{total} task runs finished"
        if line not in last[-1:]:
            click.echo(line)
            last.append(line)

    return refresh


def _watch(run: Any, deadline: float | None, refresh: Any) -> State:
    while True:
        refresh()
        left = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
        if left <= 0:
            raise click.ClickException(f"flow run {run.id} is still {run.state.name}")
        state: State = run.wait(left)  # returns at once when the run ends
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


@floq_cli.command("workers")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@server_options
def workers_command(as_json: bool, url: str | None, namespace: str | None) -> None:
    """Live workers: host, pid, mode, slots, in flight, last heartbeat."""
    from floq.store.workers import live_workers

    store = open_store(url, namespace)
    emit(live_workers(store.client, store.keys), as_json, views.workers_table)


@floq_cli.command("queues")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@server_options
def queues_command(as_json: bool, url: str | None, namespace: str | None) -> None:
    """Per queue: task runs waiting and claimed, delayed retries, dead letters, flow runs."""
    from floq.store.queues import queue_stats

    store = open_store(url, namespace)
    emit(queue_stats(store.client, store.keys), as_json, views.queues_table)
