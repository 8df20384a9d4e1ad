"""``floq dashboard``: serve the web UI (:mod:`floq.dashboard`) with uvicorn."""

from __future__ import annotations

import click

from floq.cli.app import floq_cli, server_options, settings_from_flags, talks_to
from floq.store.embedded import redis_url_or_embedded

GRACE_SECONDS = 2  # open event streams are closed this long after a stop signal


@floq_cli.command("dashboard")
@server_options
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", type=click.IntRange(0, 65535), default=8265, show_default=True)
@click.option(
    "--token",
    help="lets the dashboard cancel and retry [FLOQ_DASHBOARD_TOKEN: keeps it out of `ps`]",
)
def dashboard_command(
    url: str | None, namespace: str | None, host: str, port: int, token: str | None
) -> None:
    """A web UI: flow runs, task runs, workers, queues, dead letters; cancel and retry with
    --token. Every page has a JSON twin under /api/."""
    try:
        import uvicorn

        from floq.dashboard import create_app
    except ImportError as error:
        raise click.ClickException(
            f"the dashboard needs its extra: pip install 'floq[dashboard]' ({error})"
        ) from None

    settings = settings_from_flags(redis_url=url, namespace=namespace, dashboard_token=token)
    settings = settings.replace(redis_url=redis_url_or_embedded(settings))
    talks_to(settings.redis_url or "", settings.namespace)
    app = create_app(settings)
    mode = "cancel and retry need the token" if settings.dashboard_token else "read-only"
    click.echo(f"floq dashboard on http://{host}:{port}/ ({mode}), namespace {settings.namespace}")
    uvicorn.run(app, host=host, port=port, log_level="warning",
                timeout_graceful_shutdown=GRACE_SECONDS)  # fmt: skip
