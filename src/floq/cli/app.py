"""What the ``floq`` commands share: the click group, errors as one-line messages, settings
from flags over the environment, loading a flow, the server options."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import threading
from typing import Any

import click
import redis

from floq import __version__, logs, views
from floq.engine.flow_runs import run_flow_async, run_flow_sync
from floq.errors import FloqError
from floq.flows import Flow
from floq.settings import Settings
from floq.states import State
from floq.store.connection import redacted, refused
from floq.store.embedded import redis_url_or_embedded

# the flag of each setting a command line can set (flag > environment > default)
FLAGS = {
    "redis_url": "--redis", "namespace": "--namespace", "queues": "--queue",
    "worker_mode": "--mode", "concurrency": "--concurrency", "processes": "--processes",
    "dask_address": "--dask-address", "flow_slots": "--flow-slots", "log_format": "--log-format",
    "metrics_port": "--metrics-port", "dashboard_token": "--token",
}  # fmt: skip
_SERVER = "floq.server"  # ctx.meta key: (URL, namespace) a command talks to, for messages


class OneLineErrors:
    """Mixin for click commands: floq's errors (FloqError, ConfigurationError) and Redis's
    (redis.RedisError) end the command with one line on stderr naming the cause and exit
    status 1, never a traceback. Use ``FloqGroup`` for groups and ``FloqCommand`` for single
    commands (``@click.command("flow-worker", cls=FloqCommand)``)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)  # type: ignore[misc]
        except FloqError as error:
            raise click.ClickException(_one_line(str(error))) from None
        except redis.RedisError as error:
            raise click.ClickException(_one_line(_redis_message(ctx, error))) from None


class FloqCommand(OneLineErrors, click.Command):
    """A click command whose floq and Redis errors are one-line messages."""


class FloqGroup(OneLineErrors, click.Group):
    """A click group whose commands' floq and Redis errors are one-line messages."""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _redis_message(ctx: click.Context, error: redis.RedisError) -> str:
    url, namespace = ctx.meta.get(_SERVER, ("", ""))
    if isinstance(error, redis.AuthenticationError) and url:
        return refused(url, error)
    where = f"Redis at {redacted(url)}" if url else "Redis"
    message = f"{where}: {type(error).__name__}: {error}"
    if "WRONGTYPE" in str(error) and namespace:
        message += (
            f" (a key under '{{{namespace}}}:' holds another kind of value: does something else "
            "write there? use another --namespace)"
        )
    return message


def settings_from_flags(**flags: Any) -> Settings:
    """``Settings.from_env()`` with the flags given (None: not given) over it, validated as
    one; a bad value is reported under its flag (``--redis``), one from the environment
    under its variable. Keys are setting names (see FLAGS)."""
    given = {setting: FLAGS[setting] for setting in flags}
    return Settings.from_env().replace(given_as=given, **flags)


@click.group(cls=FloqGroup)
@click.version_option(__version__, prog_name="floq")
def floq_cli() -> None:
    """floq: flows and tasks, run here or through Redis on flow-workers."""
    Settings.from_env()  # a bad FLOQ_ variable stops every command here, named


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
    logs.show_run_logs()
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


def server(url: str | None, namespace: str | None) -> tuple[str, str]:
    """(URL, namespace) from ``--redis`` and ``--namespace`` over the environment (the
    embedded server's URL if none is set), validated."""
    settings = settings_from_flags(redis_url=url, namespace=namespace)
    return talks_to(redis_url_or_embedded(settings), settings.namespace)


def talks_to(url: str, namespace: str) -> tuple[str, str]:
    """Note the server this command uses, so that its Redis errors name it."""
    click.get_current_context().meta[_SERVER] = (url, namespace)
    return url, namespace


def open_store(url: str | None, namespace: str | None) -> Any:
    from floq.producer.flow_run import open_store as open_flow_run_store

    return open_flow_run_store(*server(url, namespace))


def fetch_run(run_id: str, url: str | None, namespace: str | None) -> Any:
    from floq.producer import FlowRun

    return FlowRun.fetch(run_id, *server(url, namespace))


def emit(rows: Any, as_json: bool, render: Any) -> None:
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
    else:
        views.console().print(render(rows))
