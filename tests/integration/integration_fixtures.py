"""Fixtures of the integration tests: a client and the key layout of the test's namespace.

The server, the namespace and the ``workers`` factory come from ``tests/conftest.py``. The
integration and cluster folders' conftests import these (the cluster one runs some
integration modules again on a Redis Cluster).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from integration_helpers import FLOQ_CLI, WAIT, clean_env, run_cli

from floq.runners import RedisTaskRunner
from floq.store import embedded
from floq.store.connection import connect
from floq.store.keys import Keys

HERE = str(Path(__file__).parent)  # on the PYTHONPATH of the floq commands the tests run


@pytest.fixture
def client(redis_url: str) -> Iterator[Any]:
    """A client of the test server (bytes replies): a cluster client on the cluster."""
    connection = connect(redis_url)
    yield connection
    connection.close()


@pytest.fixture
def keys(namespace: str) -> Keys:
    return Keys(namespace)


@pytest.fixture
def runner(redis_url: str, namespace: str) -> RedisTaskRunner:
    """A RedisTaskRunner on the test's server and namespace."""
    return RedisTaskRunner(url=redis_url, namespace=namespace)


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (just bound and released)."""
    port = embedded.free_port()
    assert port != 6379
    return port


@pytest.fixture
def floq(redis_url: str, namespace: str, flow_run_env: dict[str, str]) -> Any:
    """Run `floq ARGS...` against the test's server and namespace; the finished process."""
    env = clean_env(
        FLOQ_REDIS_URL=redis_url, FLOQ_NAMESPACE=namespace, PYTHONPATH=HERE, **flow_run_env
    )

    def run(*args: str, timeout: float = WAIT) -> subprocess.CompletedProcess[str]:
        return run_cli(FLOQ_CLI, *args, env=env, timeout=timeout)

    return run
