"""Redis ACL users (``redis://user:pass@...``): a user limited to the namespace's keys (and RQ's)
runs a flow as producer, coordinator, worker and CLI; a wrong password is one clear line, on
one server, on a Redis Cluster and behind a Sentinel.

The server is Debian's ``redis-server`` started by the test; its default user gets a password
of its own, so that nothing here works without the ACL user.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import cloudpickle
import enqueued_flows
import pytest
import redis
from integration_fixtures import HERE
from integration_helpers import FLOQ_CLI, WAIT, WORKER_CLI, clean_env, run_cli

from floq import flow, task
from floq.errors import FloqError
from floq.producer import enqueue
from floq.runners import RedisTaskRunner
from floq.store.connection import check, connect
from servers import Servers, redis_cluster, sentinel_set

cloudpickle.register_pickle_by_value(sys.modules[__name__])

PASSWORD, WRONG = "alice-pass-4711", "not-alices-pass-0815"


@task
def double(x: int) -> int:
    return 2 * x


@pytest.fixture
def acl_server(tmp_path: Path, namespace: str) -> Iterator[tuple[int, str]]:
    """(port, URL of user alice) of a server whose only usable user is alice, allowed the keys
    of the test's namespace and RQ's, and no dangerous command."""
    servers = Servers(tmp_path / "server")
    port = servers.start()
    admin = redis.Redis(port=port)
    admin.execute_command(
        "ACL", "SETUSER", "alice", "on", f">{PASSWORD}", f"~{{{namespace}}}:*", "~rq:*",
        "&*", "+@all", "-@dangerous",
    )  # fmt: skip
    admin.execute_command("ACL", "SETUSER", "default", "resetpass", ">the-admins-own-pass")
    admin.close()
    try:
        yield port, f"redis://alice:{PASSWORD}@127.0.0.1:{port}/0"
    finally:
        servers.stop()


def _cli(url: str, namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(FLOQ_REDIS_URL=url, FLOQ_NAMESPACE=namespace, PYTHONPATH=HERE)
    return run_cli(FLOQ_CLI, *args, env=env)


def test_an_acl_user_runs_a_flow_everywhere(
    acl_server: tuple[int, str], namespace: str, workers: Any
) -> None:
    port, url = acl_server
    with pytest.raises(redis.AuthenticationError):  # nothing works without alice
        redis.Redis(port=port).ping()
    workers.url = url
    workers.start("--concurrency", "4", "--flow-slots", "1", PYTHONPATH=HERE)
    workers.wait_registered(1)

    run = enqueue(enqueued_flows.sum_of_squares, (4,), url=url, namespace=namespace)
    assert run.result(timeout=WAIT) == 0 + 1 + 4 + 9, workers.logs()

    @flow(task_runner=RedisTaskRunner(url=url, namespace=namespace))
    def here() -> list[int]:  # this process as the coordinator
        return [f.result(timeout=WAIT) for f in double.map(range(3))]

    assert here() == [0, 2, 4]
    queues = _cli(url, namespace, "queues", "--json")
    assert queues.returncode == 0, queues.stderr
    assert "default" in [row["queue"] for row in json.loads(queues.stdout)]
    inspected = _cli(url, namespace, "inspect", run.id, "--json")
    assert inspected.returncode == 0, inspected.stderr
    assert json.loads(inspected.stdout)["state"] == "Completed"
    assert "ERROR" not in workers.logs() and "Traceback" not in workers.logs(), workers.logs()


def test_a_wrong_password_is_one_line_naming_the_user(
    acl_server: tuple[int, str], namespace: str
) -> None:
    port, _ = acl_server
    wrong = f"redis://alice:{WRONG}@127.0.0.1:{port}/0"
    env = clean_env(FLOQ_REDIS_URL=wrong, FLOQ_NAMESPACE=namespace)
    for command, args in ((WORKER_CLI, ()), (FLOQ_CLI, ("queues",)), (FLOQ_CLI, ("inspect", "x"))):
        began = time.monotonic()
        done = run_cli(command, *args, env=env, timeout=WAIT)
        took = time.monotonic() - began
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        [line] = done.stderr.strip().splitlines()
        assert "refused user 'alice'" in line and f"127.0.0.1:{port}" in line, line
        assert WRONG not in done.stderr + done.stdout
        assert took < 15, f"{args}: {took:.1f} s: a wrong password is not retried"  # not 60 s
    with pytest.raises(FloqError, match="refused user 'alice'") as refused:  # the producer
        enqueue(enqueued_flows.sum_of_squares, (1,), url=wrong, namespace=namespace)
    assert WRONG not in str(refused.value)


@pytest.mark.parametrize("kind", ["cluster", "sentinel"])
def test_a_wrong_password_on_a_cluster_or_sentinel_url_is_one_line(
    kind: str, tmp_path: Path, namespace: str
) -> None:
    with ExitStack() as stack:  # servers whose default user needs PASSWORD
        if kind == "cluster":
            url = stack.enter_context(redis_cluster(tmp_path, password=PASSWORD))
        else:
            url = stack.enter_context(sentinel_set(tmp_path, password=PASSWORD)).url
        scheme, rest = url.split("://", 1)
        right, wrong = (f"{scheme}://:{secret}@{rest}" for secret in (PASSWORD, WRONG))
        client = connect(right, retry_seconds=0)  # the right password works
        check(client, right)
        client.close()
        healthy = _cli(right, namespace, "health")
        assert healthy.returncode == 0 and "healthy" in healthy.stdout, healthy.stderr
        first_port = rest.split(",")[0].split("/")[0]
        for command, args in ((WORKER_CLI, ("--flow-slots", "0")), (FLOQ_CLI, ("health",))):
            began = time.monotonic()
            done = run_cli(command, *args, env=clean_env(FLOQ_REDIS_URL=wrong), timeout=WAIT)
            took = time.monotonic() - began
            assert done.returncode == 1, (args, done.stdout, done.stderr)
            [line] = done.stderr.strip().splitlines()
            assert "refused user 'default'" in line and first_port in line, line
            assert WRONG not in done.stderr + done.stdout
            assert took < 15, f"{args}: {took:.1f} s: a wrong password is not retried"
