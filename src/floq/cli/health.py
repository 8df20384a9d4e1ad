"""``floq health``: the check a container's HEALTHCHECK or a Kubernetes probe runs.

Exit 0 when the server answers a PING (and, with ``--worker NAME``, that worker's heartbeat
has not lapsed); else exit 1 with one line naming the URL or the worker. It never starts the
embedded server and never waits out an outage: a probe must answer at once.
"""

from __future__ import annotations

import click
import redis

from floq.cli.app import floq_cli, settings_from_flags, talks_to
from floq.errors import ConfigurationError
from floq.store.connection import connect, redacted, refused
from floq.store.keys import Keys
from floq.store.protocol import WorkerRegistry

CONNECT_TIMEOUT = 3.0  # seconds a probe waits for the server to accept the connection


@floq_cli.command("health")
@click.option("--redis", "url", help="Redis URL [FLOQ_REDIS_URL]")
@click.option("--namespace", help="prefix of floq's Redis keys [FLOQ_NAMESPACE]")
@click.option("--worker", "worker", help="also require this worker's heartbeat to be fresh")
def health_command(url: str | None, namespace: str | None, worker: str | None) -> None:
    """Exit 0 if the server answers (and --worker's heartbeat is fresh), else 1."""
    settings = settings_from_flags(redis_url=url, namespace=namespace)
    if not settings.redis_url:
        raise ConfigurationError("floq health needs a server: give --redis or set FLOQ_REDIS_URL")
    url, namespace = talks_to(settings.redis_url, settings.namespace)
    client = connect(url, connect_timeout=CONNECT_TIMEOUT, retry_seconds=0)
    try:
        client.ping()
    except redis.AuthenticationError as error:
        raise click.ClickException(f"unhealthy: {refused(url, error)}") from None
    except redis.RedisError as error:
        raise click.ClickException(
            f"unhealthy: Redis at {redacted(url)} does not answer: {type(error).__name__}"
        ) from None
    if worker and not WorkerRegistry(client, Keys(namespace)).is_live(worker):
        raise click.ClickException(
            f"unhealthy: worker {worker!r} has no fresh heartbeat on {redacted(url)} "
            f"(namespace {namespace!r})"
        )
    click.echo(f"healthy: {redacted(url)}" + (f", worker {worker}" if worker else ""))
