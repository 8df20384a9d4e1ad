"""Command-line entry points: ``floq`` (a click group) and ``flow-worker``.

app.py      the group and what its commands share: one-line errors (FloqGroup, FloqCommand),
            settings from flags (settings_from_flags), loading a flow, --redis/--namespace
running.py  run, enqueue, demo, server
observe.py  runs, inspect, watch, cancel, workers, queues
dashboard.py  dashboard (the web UI)
dead_letters.py  dead-letters list, show, requeue, purge
health.py   health (the probe of containers and Kubernetes)
worker.py   flow-worker
"""

from floq.cli import dashboard, dead_letters, health, observe, running  # noqa: F401 - add commands
from floq.cli.app import floq_cli
from floq.cli.worker import flow_worker_cli

__all__ = ["floq_cli", "flow_worker_cli"]
