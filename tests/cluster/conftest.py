"""Integration tests again, on a real local 3-node Redis Cluster (``cluster_url``).

A single server says nothing about slots: here every key a script touches must be on the node
that runs it. Each ``test_*_on_cluster.py`` module imports one integration module's tests;
pytest collects them here, so these fixtures apply: ``redis_url`` is the cluster's, and flow
runs (RQ, which does not run on a cluster) queue on the session's plain server, named to every
process by ``FLOQ_FLOW_RUN_REDIS_URL``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))

from integration_fixtures import *  # noqa: F403


@pytest.fixture(scope="session")
def redis_url(cluster_url: str) -> str:
    return cluster_url


@pytest.fixture(scope="session")
def flow_run_env(server_url: str) -> dict[str, str]:
    return {"FLOQ_FLOW_RUN_REDIS_URL": server_url}
