"""``flow-worker``: the worker daemon's command line.

Ctrl-C (SIGINT) or SIGTERM drains and says so on stderr; a second one hands the unfinished
runs back to their queues and exits (see :mod:`floq.worker.daemon`). Exit status 0 either
way. A worker that cannot start (no Redis, ``--mode dask`` without dask, ...) says why in one
line on stderr and exits 1.
"""

from __future__ import annotations

import logging

import click

from floq import logs
from floq.cli.app import FloqCommand, settings_from_flags, talks_to
from floq.errors import ConfigurationError
from floq.settings import LOG_FORMATS, WORKER_MODES
from floq.store.connection import is_cluster
from floq.store.embedded import redis_url_or_embedded
from floq.store.flow_runs import NO_FLOW_RUN_SERVER


@click.command("flow-worker", cls=FloqCommand)
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
@click.option(
    "--log-format", type=click.Choice(LOG_FORMATS), help="text, or json lines [FLOQ_LOG_FORMAT]"
)
@click.option(
    "--metrics-port", type=int, help="serve Prometheus metrics on this port [FLOQ_METRICS_PORT]"
)
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
    log_format: str | None,
    metrics_port: int | None,
) -> None:
    """Run task runs from Redis queues: threads, processes or a Dask cluster."""
    from floq.worker import Worker, WorkerConfig

    settings = settings_from_flags(
        redis_url=url,
        queues=queues or None,
        worker_mode=mode,
        concurrency=concurrency,
        processes=processes,
        dask_address=dask_address,
        namespace=namespace,
        flow_slots=flow_slots,
        log_format=log_format,
        metrics_port=metrics_port,
    )
    _check_mode_flags(settings.worker_mode, concurrency, processes, dask_address)
    logs.install_default_handler(settings.log_level, settings.log_format)
    url, _ = talks_to(redis_url_or_embedded(settings), settings.namespace)
    flow_slots = 0 if burst else settings.flow_slots
    if flow_slots and is_cluster(url) and not settings.flow_run_redis_url:
        flow_slots = 0
        logging.getLogger("floq.worker").warning("no flow slots: %s", NO_FLOW_RUN_SERVER)
    config = WorkerConfig(
        url=url,
        settings=settings,
        queues=settings.queues,
        mode=settings.worker_mode,
        concurrency=settings.concurrency,
        processes=settings.processes,
        dask_address=settings.dask_address,
        burst=burst,
        flow_slots=flow_slots,
        **({"name": name} if name else {}),
    )
    logs.set_worker_name(config.name)
    worker = Worker(config)
    worker.handle_signals()
    worker.start()
    worker.run()


def _check_mode_flags(
    mode: str, concurrency: int | None, processes: int | None, dask_address: str | None
) -> None:
    """A flag of another mode on the command line is a mistake, not something to ignore
    (``--processes 8`` on a concurrent worker would run 16 threads). Variables are not checked:
    one environment may serve workers of every mode."""
    given = {"--processes": (processes, ("parallel",)), "--dask-address": (dask_address, ("dask",)),
             "--concurrency": (concurrency, ("concurrent", "dask"))}  # fmt: skip
    for flag, (value, modes) in given.items():
        if value is not None and mode not in modes:
            raise ConfigurationError(
                f"{flag} applies to --mode {' or '.join(modes)}, but this worker's mode is {mode!r}"
            )
