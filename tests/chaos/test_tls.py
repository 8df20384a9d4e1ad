"""``rediss://`` URLs really use TLS: a flow runs through a server that speaks nothing else.

The server is Debian's ``redis-server`` (built with TLS; the pip-installed Valkey is not),
which ``.ci/run`` installs; the certificates come from ``trustme`` (a throwaway CA).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
import redis
import trustme
from integration_helpers import WAIT

from floq import flow, task
from floq.runners import RedisTaskRunner
from servers import Servers, Tls, redis_cluster, sentinel_set

cloudpickle.register_pickle_by_value(sys.modules[__name__])


@task
def add(x: int, y: int) -> int:
    return x + y


@pytest.fixture
def tls(tmp_path: Path) -> Tls:
    """A CA made for this test, and a certificate for 127.0.0.1 it signed."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    paths = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    cert.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    cert.private_key_pem.write_to_path(str(paths["key"]))
    return Tls(paths["ca"], paths["cert"], paths["key"])


@pytest.fixture
def tls_url(tmp_path: Path, tls: Tls) -> Iterator[str]:
    """A rediss:// URL of a server with its plain port off, trusting a CA made for this test."""
    assert shutil.which("redis-server"), (
        "redis-server (Debian's, with TLS) is needed: .ci/run installs it"
    )
    servers = Servers(tmp_path / "server", tls)
    try:
        port = servers.start("appendonly no")  # it answers over TLS, and is the one started
        yield f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={tls.ca}"
    finally:
        servers.stop()


def test_a_flow_runs_over_tls(tls_url: str, namespace: str, workers: Any) -> None:
    plain = redis.Redis.from_url(tls_url.replace("rediss://", "redis://").split("?")[0])
    with pytest.raises(redis.ConnectionError):
        plain.ping()  # the server speaks TLS only: a plain client gets nowhere
    plain.close()
    workers.url = tls_url  # the workers' FLOQ_REDIS_URL
    workers.start("--concurrency", "4")
    workers.wait_registered(1)

    @flow(task_runner=RedisTaskRunner(url=tls_url, namespace=namespace))
    def over_tls() -> list[int]:
        return [f.result(timeout=WAIT) for f in add.map(range(5), 1)]

    assert over_tls() == [1, 2, 3, 4, 5], workers.logs()


@pytest.mark.parametrize("kind", ["cluster", "sentinel"])
def test_a_flow_runs_over_tls_on_a_cluster_or_a_sentinel_set(
    kind: str, tls: Tls, tmp_path: Path, namespace: str, workers: Any
) -> None:
    """``rediss+cluster://`` and ``rediss+sentinel://``: every node, Sentinel and replica speaks
    TLS only (these URLs failed with a TypeError inside redis-py before)."""
    with ExitStack() as stack:
        if kind == "cluster":
            url = stack.enter_context(redis_cluster(tmp_path / "servers", tls=tls))
        else:
            url = stack.enter_context(sentinel_set(tmp_path / "servers", tls=tls)).url
        assert url.startswith(f"rediss+{kind}://"), url
        workers.url = url
        workers.start("--concurrency", "4", "--flow-slots", "0")
        workers.wait_registered(1)

        @flow(task_runner=RedisTaskRunner(url=url, namespace=namespace))
        def over_tls() -> list[int]:
            return [f.result(timeout=WAIT) for f in add.map(range(5), 1)]

        assert over_tls() == [1, 2, 3, 4, 5], workers.logs()
        workers.stop()  # before their servers
