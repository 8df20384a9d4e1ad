"""A flow that carries its own task runner instance can be enqueued and runs on a worker.

A runner pickles as its configuration (class and constructor arguments), never its live state:
each runner here is one a user would write in ``@flow(task_runner=...)``, from an importable
module (the flow body travels by reference) and from a ``__main__`` script (by value).
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
import runner_flows
from integration_helpers import WAIT, clean_env

from floq.producer import enqueue
from floq.runners import (
    ConcurrentTaskRunner,
    DaskTaskRunner,
    ProcessPoolTaskRunner,
    RedisTaskRunner,
    SequentialTaskRunner,
)

HERE = str(Path(__file__).parent)
LOCAL_DASK = {"n_workers": 1, "processes": False, "dashboard_address": None}

RUNNERS = {
    "sequential": "SequentialTaskRunner()",
    "concurrent": "ConcurrentTaskRunner(max_workers=4)",
    "process-pool": "ProcessPoolTaskRunner(max_workers=2)",
    "dask-local": f"DaskTaskRunner(cluster_kwargs={LOCAL_DASK!r})",
    "dask-address": "DaskTaskRunner(address=DASK)",
    "redis": "RedisTaskRunner(url=URL, queue='default')",
}


@pytest.fixture(scope="module")
def dask_address() -> Iterator[str]:
    import distributed  # the test extra installs it: never skip

    with distributed.LocalCluster(
        n_workers=1, processes=False, threads_per_worker=2, dashboard_address=None,
        protocol="tcp", host="127.0.0.1",
    ) as cluster:  # fmt: skip
        yield cluster.scheduler_address


def build(spec: str, url: str, dask: str) -> Any:
    names = {
        "SequentialTaskRunner": SequentialTaskRunner,
        "ConcurrentTaskRunner": ConcurrentTaskRunner,
        "ProcessPoolTaskRunner": ProcessPoolTaskRunner,
        "DaskTaskRunner": DaskTaskRunner,
        "RedisTaskRunner": RedisTaskRunner,
        "URL": url,
        "DASK": dask,
    }
    return eval(spec, names)


def test_a_started_runner_pickles_as_its_configuration() -> None:
    with ConcurrentTaskRunner(max_workers=3) as runner:  # a pool and a loop thread inside
        copy = pickle.loads(cloudpickle.dumps(runner))
    assert type(copy) is ConcurrentTaskRunner and copy.max_workers == 3
    assert repr(pickle.loads(cloudpickle.dumps(RedisTaskRunner(url="redis://h:1/2", queue="q"))))
    redis_copy = pickle.loads(cloudpickle.dumps(RedisTaskRunner(url="redis://h:1/2", queue="q")))
    assert (redis_copy.url, redis_copy.queue) == ("redis://h:1/2", "q")


def test_flows_from_a_module_carrying_each_runner_complete(
    workers: Any, redis_url: str, namespace: str, dask_address: str
) -> None:
    workers.start("--flow-slots", "1", PYTHONPATH=HERE)
    workers.wait_registered(1)
    runs = {}
    for kind, spec in RUNNERS.items():
        flow = runner_flows.flow_with(build(spec, redis_url, dask_address))
        runs[kind] = enqueue(flow, (5,), url=redis_url, namespace=namespace)
    results = {kind: run.result(timeout=WAIT * 2) for kind, run in runs.items()}
    assert results == dict.fromkeys(RUNNERS, 0 + 1 + 4 + 9 + 16), workers.logs()
    counted = {kind: run.record().get("n:COMPLETED") for kind, run in runs.items()}
    # Each flow kept its own runner: only the Redis one sent its task runs through the streams.
    assert counted == {**dict.fromkeys(RUNNERS), "redis": b"5"}


SCRIPT = """
    import sys
    from floq import flow, task
    from floq.runners import *

    @task
    def square(x):
        return x * x

    @flow(task_runner=eval(sys.argv[1], {**globals(), "URL": sys.argv[2], "DASK": sys.argv[3]}))
    def total(n):
        return sum(f.result() for f in square.map(range(n)))

    if __name__ == "__main__":
        print("result", total.enqueue(4).result(timeout=float(sys.argv[4])))
"""


def test_flows_from_main_carrying_each_runner_complete(
    workers: Any, redis_url: str, namespace: str, dask_address: str, tmp_path: Path
) -> None:
    script = tmp_path / "main_flow.py"
    script.write_text(textwrap.dedent(SCRIPT))
    workers.start("--flow-slots", "2")  # nothing of the script is importable on the worker
    workers.wait_registered(1)
    env = clean_env(FLOQ_REDIS_URL=redis_url, FLOQ_NAMESPACE=namespace)
    apps = {}
    for kind, spec in RUNNERS.items():
        argv = [sys.executable, str(script), spec, redis_url, dask_address, str(WAIT * 2)]
        apps[kind] = subprocess.Popen(argv, env=env, cwd=tmp_path, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    outputs = {}
    for kind, app in apps.items():
        out, err = app.communicate(timeout=WAIT * 3)
        outputs[kind] = (app.returncode, out.strip().splitlines()[-1:], err[-2000:])
    for kind, (code, last, err) in outputs.items():
        assert (code, last) == (0, ["result 14"]), f"{kind}: {err}\n{workers.logs()}"


HELPERS_SCRIPT = """
    import sys
    import cloudpickle
    import helpers  # a module of the app's own, absent on the worker
    from floq import flow, task

    cloudpickle.register_pickle_by_value(helpers)  # README: ship a module of your own by value

    @task
    def twice(x):
        return helpers.twice(x)

    @flow
    def doubled(n):
        return helpers.label([twice(i) for i in range(n)])

    if __name__ == "__main__":
        print("result", doubled.enqueue(3).result(timeout=float(sys.argv[1])))
"""


def test_a_module_registered_by_value_travels_with_the_flow(
    workers: Any, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "helpers.py").write_text(
        "def twice(x):\n    return 2 * x\n\n\ndef label(values):\n    return f'doubled {values}'\n"
    )
    (app / "main.py").write_text(textwrap.dedent(HELPERS_SCRIPT))
    workers.start("--flow-slots", "1")  # its cwd and path do not hold app/
    workers.wait_registered(1)
    env = clean_env(FLOQ_REDIS_URL=redis_url, FLOQ_NAMESPACE=namespace)
    done = subprocess.run(
        [sys.executable, "main.py", str(WAIT)],
        env=env, cwd=app, capture_output=True, text=True, timeout=WAIT * 2,
    )  # fmt: skip
    assert done.returncode == 0, f"{done.stderr}\n{workers.logs()}"
    assert done.stdout.strip().splitlines()[-1] == "result doubled [0, 2, 4]"
