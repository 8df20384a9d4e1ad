"""Errors of the distributed path fail fast and say what is wrong."""

from __future__ import annotations

import sys
import threading
import time

import cloudpickle
import pytest
from integration_helpers import WORKER_CLI, call_bounded, clean_env, run_cli

from floq import flow, task
from floq.errors import FloqError, SerializationError
from floq.runners import RedisTaskRunner

cloudpickle.register_pickle_by_value(sys.modules[__name__])


@task
def echo(value: object) -> object:
    return value


def test_worker_exits_when_redis_is_unreachable(closed_port: int, tmp_path) -> None:
    url = f"redis://127.0.0.1:{closed_port}/0"
    started = time.monotonic()
    done = run_cli(WORKER_CLI, "--redis", url, env=clean_env(FLOQ_HOME=str(tmp_path)), timeout=15)
    assert time.monotonic() - started < 10
    assert done.returncode != 0
    assert f"127.0.0.1:{closed_port}" in done.stdout + done.stderr


def test_flow_fails_fast_when_redis_is_unreachable(closed_port: int) -> None:
    url = f"redis://127.0.0.1:{closed_port}/0"

    @flow(task_runner=RedisTaskRunner(url=url))
    def unreachable() -> object:
        return echo.submit(1).result(timeout=5)

    started = time.monotonic()
    value, error = call_bounded(unreachable, timeout=15)
    assert time.monotonic() - started < 10
    assert isinstance(error, FloqError), (value, error)
    assert f"127.0.0.1:{closed_port}" in str(error)


def test_unpicklable_argument_fails_at_submit(runner) -> None:
    @flow(task_runner=runner)
    def with_lock() -> Exception:
        with pytest.raises(SerializationError) as caught:
            echo.submit(threading.Lock())
        return caught.value

    error = with_lock()
    message = str(error)
    assert "'echo'" in message
    assert "type lock" in message


@pytest.mark.parametrize(
    ("variable", "value"), [("FLOQ_WORKER_MODE", "turbo"), ("FLOQ_CONCURRENCY", "abc")]
)
def test_worker_refuses_a_bad_setting(
    variable: str, value: str, redis_url: str, namespace: str, tmp_path
) -> None:
    env = clean_env(
        FLOQ_REDIS_URL=redis_url, FLOQ_NAMESPACE=namespace, FLOQ_HOME=str(tmp_path),
        **{variable: value},
    )  # fmt: skip
    done = run_cli(WORKER_CLI, "--burst", env=env, timeout=15)
    assert done.returncode != 0
    assert variable in done.stdout + done.stderr
    assert value in done.stdout + done.stderr
