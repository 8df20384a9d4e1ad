"""What the ``floq`` commands share: the click group, loading a flow, the server options."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import threading
from typing import Any

import click

from floq import __version__, views
from floq.engine.flow_runs import run_flow_async, run_flow_sync
from floq.errors import FloqError
from floq.flows import Flow
from floq.states import State


@click.group()
@click.version_option(__version__, prog_name="floq")
def floq_cli() -> None:
    """floq: flows and tasks, run here or through Redis on flow-workers."""


def load_flow(target: str) -> Flow[Any, Any]:
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


def parse_params(pairs: tuple[str, ...]) -> dict[str, Any]:
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


def run_here(flow: Flow[Any, Any], kwargs: dict[str, Any], on_start: Any = None) -> State:
    if flow.is_async:
        return asyncio.run(run_flow_async(flow, (), kwargs, on_start=on_start))
    return run_flow_sync(flow, (), kwargs, on_start=on_start)


def run_with_progress(flow: Flow[Any, Any], kwargs: dict[str, Any]) -> State:
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
            return run_here(flow, kwargs, started.append)
        finally:
            done.set()
            poller.join(timeout=5)


def echo_outcome(state: State) -> None:
    click.echo(f"{state.name}: {state.data!r}")
    sys.exit(0 if state.is_completed() else 1)


def server_options(command: Any) -> Any:
    """``--redis`` and ``--namespace``, over FLOQ_REDIS_URL and FLOQ_NAMESPACE."""
    command = click.option("--namespace", help="prefix of floq's Redis keys [FLOQ_NAMESPACE]")(
        command
    )
    return click.option("--redis", "url", help="Redis URL [FLOQ_REDIS_URL; default: embedded]")(
        command
    )


def open_store(url: str | None, namespace: str | None) -> Any:
    from floq.producer.flow_run import open_store as open_flow_run_store

    try:
        return open_flow_run_store(url, namespace)
    except FloqError as error:
        raise click.ClickException(str(error)) from None


def fetch_run(run_id: str, url: str | None, namespace: str | None) -> Any:
    from floq.producer import FlowRun

    try:
        return FlowRun.fetch(run_id, url, namespace)
    except FloqError as error:
        raise click.ClickException(str(error)) from None


def emit(rows: Any, as_json: bool, render: Any) -> None:
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
    else:
        views.console().print(render(rows))
