"""Results and run records expire by their TTL (``FLOQ_RESULT_TTL``): proven, not assumed.

With a TTL of a few seconds, every key a finished flow run left (its task runs, results,
index, record, events, the code of its tasks, and RQ's job of an enqueued run) is gone soon
after; a worker's running flow never loses its own keys (the TTL is longer than the flow).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import cloudpickle
import enqueued_flows
import pytest
from integration_fixtures import HERE
from integration_helpers import WAIT, wait_until

from floq import flow, settings, task
from floq.context import current
from floq.producer import enqueue
from floq.settings import Settings
from floq.store.keys import Keys

cloudpickle.register_pickle_by_value(sys.modules[__name__])

TTL = 3  # seconds; a flow here takes well under one


@task
def run_ids(x: int) -> tuple[int, str, str | None]:
    """x, and the ids a task can key its side effects on: its task run's and flow run's."""
    run = current().task_run
    assert run is not None
    return x, run.id, run.flow_run_id


def _left(client: Any, keys: Keys, flow_run_ids: list[str]) -> list[bytes]:
    """Every key of these flow runs (floq's and RQ's), and every stored task code."""
    found = list(client.scan_iter(f"{keys.root}code:*"))
    for flow_run_id in flow_run_ids:
        found += client.scan_iter(f"{keys.flow_prefix(flow_run_id)}*")
        found += client.scan_iter(f"rq:*{flow_run_id}*")
    return found


def test_a_finished_flow_runs_keys_expire_by_the_ttl(
    runner: Any, workers: Any, client: Any, keys: Keys, redis_url: str, namespace: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(settings, "_settings", Settings.from_env().replace(result_ttl=TTL))
    workers.start("--flow-slots", "1", FLOQ_RESULT_TTL=str(TTL), PYTHONPATH=HERE)
    workers.wait_registered(1)

    enqueued = enqueue(enqueued_flows.sum_of_squares, (6,), url=redis_url, namespace=namespace)
    assert enqueued.result(timeout=WAIT) == sum(x * x for x in range(6))

    @flow(task_runner=runner)
    def here() -> list[tuple[int, str, str | None]]:
        firsts = run_ids.map(range(5))
        return [run_ids.submit(f.result()[0], wait_for=[f]).result() for f in firsts]

    rows = here()
    [flow_run_id] = {row[2] for row in rows}
    assert flow_run_id and len({row[1] for row in rows}) == 5  # a distinct id per task run
    finished = time.monotonic()
    left = _left(client, keys, [enqueued.id, flow_run_id])
    assert len(left) > 10, left  # they were there

    wait_until(lambda: not _left(client, keys, [enqueued.id, flow_run_id]), TTL + WAIT,
               "the finished flow runs' keys to expire")  # fmt: skip
    gone_after = time.monotonic() - finished
    print(f"{len(left)} keys of 2 finished flow runs gone {gone_after:.1f} s after (TTL {TTL} s)")
    assert gone_after >= TTL - 1  # by their TTL, not deleted at the end
