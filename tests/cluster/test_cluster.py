"""What only a cluster can show: one slot per namespace, and flow runs' own server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import cloudpickle
from integration_helpers import FLOQ_CLI, WAIT, clean_env, run_cli, wait_until

from floq import flow, task
from floq.store.keys import Keys

HERE = str(Path(__file__).parents[1] / "integration")
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this


@task(retries=1, retry_delay_seconds=0)
def shaky(x: int, marker: str) -> int:
    flag = Path(marker)
    if x == 3 and not flag.exists():
        flag.write_text("failed once")
        raise RuntimeError("first attempt fails")
    return x * 2


@task
def total(values: list[int]) -> int:
    return sum(values)


def test_every_key_of_a_namespace_is_in_one_slot(
    runner: Any, workers: Any, client: Any, keys: Keys, tmp_path: Path
) -> None:
    """Submit, retry, complete with dependents: each script ran on the node of the namespace's
    slot (a cross-slot access fails the script) and every key written shares that slot."""
    workers.start("--concurrency", "4")
    workers.wait_registered(1)

    @flow(task_runner=runner)
    def doubled(n: int) -> int:
        return total.submit(shaky.map(range(n), str(tmp_path / "flag"))).result()

    assert doubled(8) == 56
    written = [key.decode() for key in client.scan_iter(match=f"{keys.root}*", count=1000)]
    assert any(":t:" in key for key in written) and keys.retries not in written, written
    slots = {int(client.cluster_keyslot(key)) for key in written}
    assert slots == {int(client.cluster_keyslot(keys.root))}, slots


def test_a_cluster_without_a_flow_run_server_says_what_to_set(
    redis_url: str, namespace: str, workers: Any
) -> None:
    env = clean_env(FLOQ_REDIS_URL=redis_url, FLOQ_NAMESPACE=namespace, PYTHONPATH=HERE)
    done = run_cli(FLOQ_CLI, "enqueue", "enqueued_flows:sum_of_squares", "-p", "n=2", env=env)
    assert done.returncode == 1, done.stdout
    [line] = done.stderr.strip().splitlines()
    assert "FLOQ_FLOW_RUN_REDIS_URL" in line and "Redis Cluster" in line, line
    # A worker on the cluster with no flow-run server runs task runs, without flow slots.
    workers.flow_run_env = {}
    workers.start("--flow-slots", "1")
    workers.wait_registered(1)
    wait_until(lambda: "no flow slots" in workers.logs(), WAIT, "the worker's warning")
    assert "FLOQ_FLOW_RUN_REDIS_URL" in workers.logs()
