"""Command-line entry points: ``floq`` and ``flow-worker`` (click)."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from typing import Any

import click

from floq import __version__
from floq.flows import Flow
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


@click.command()
def flow_worker_cli() -> None:
    """The distributed worker daemon (the Redis path is not built yet)."""
    raise click.ClickException("flow-worker: the Redis task path is not available in this version")
