"""Errors of the `floq` command, through real subprocesses: one line naming what the user gave
(the flag or the variable), a non-zero exit, never a traceback."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from integration_helpers import FLOQ_CLI, WORKER_CLI, clean_env, run_cli

from floq import flow
from floq.errors import RunnerError
from floq.runners import DaskTaskRunner
from floq.store.keys import Keys


def _one_line_error(done: subprocess.CompletedProcess[str], *named: str) -> str:
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    [line] = done.stderr.strip().splitlines()  # one line, and nothing else
    for name in named:
        assert name in line, line
    return line


def test_a_bad_variable_stops_floq_run_at_start() -> None:
    env = clean_env(FLOQ_LOG_LEVEL="bogus")
    done = run_cli(FLOQ_CLI, "run", "no_such_module:flow", env=env)
    _one_line_error(done, "FLOQ_LOG_LEVEL", "'bogus'")


def test_a_key_of_the_wrong_type_is_one_line(client: Any, redis_url: str, namespace: str) -> None:
    client.set(Keys(namespace).workers, "x")  # a set in floq's layout
    env = clean_env(FLOQ_REDIS_URL=redis_url, FLOQ_NAMESPACE=namespace)
    done = run_cli(FLOQ_CLI, "workers", env=env)
    _one_line_error(done, "WRONGTYPE", redis_url, namespace)


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--namespace", "a b"], {}, ["--namespace", "'a b'"]),
        ([], {"FLOQ_NAMESPACE": "a b"}, ["FLOQ_NAMESPACE", "'a b'"]),
        (["--redis", "notaurl"], {}, ["--redis", "'notaurl'"]),
        ([], {"FLOQ_REDIS_URL": "notaurl"}, ["FLOQ_REDIS_URL", "'notaurl'"]),
    ],
)
def test_flags_and_variables_are_validated_alike_and_named(
    args: list[str], env: dict[str, str], named: list[str]
) -> None:
    done = run_cli(FLOQ_CLI, "enqueue", "no_such_module:flow", *args, env=clean_env(**env))
    line = _one_line_error(done, *named)
    wrong = "FLOQ_" if named[0].startswith("--") else "--"
    assert wrong not in line  # names what the user gave, not the other spelling


def test_an_unreachable_server_is_one_line(closed_port: int) -> None:
    url = f"redis://127.0.0.1:{closed_port}/0"
    done = run_cli(FLOQ_CLI, "runs", "--redis", url, env=clean_env())
    _one_line_error(done, url)


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--namespace", "a b"], {}, ["--namespace", "'a b'"]),
        (["--redis", "notaurl"], {}, ["--redis", "'notaurl'"]),
        ([], {"FLOQ_CONCURRENCY": "many"}, ["FLOQ_CONCURRENCY", "'many'"]),
        (["--queue", ""], {}, ["--queue"]),
        (["--processes", "2"], {}, ["--processes", "--mode parallel", "'concurrent'"]),
        (["--mode", "parallel", "--concurrency", "4"], {}, ["--concurrency", "'parallel'"]),
        (["--dask-address", "tcp://127.0.0.1:1"], {}, ["--dask-address", "--mode dask"]),
    ],
)
def test_flow_worker_names_the_bad_flag_or_variable(
    args: list[str], env: dict[str, str], named: list[str]
) -> None:
    done = run_cli(WORKER_CLI, *args, env=clean_env(**env))
    line = _one_line_error(done, *named)
    wrong = "FLOQ_" if named[0].startswith("--") else "--"
    assert wrong not in line


@pytest.mark.parametrize("form", ["redis://127.0.0.1:{port}/0",
                                  "redis+sentinel://127.0.0.1:{port}/mymaster/0"])  # fmt: skip
def test_flow_worker_on_an_unreachable_server_is_one_line(closed_port: int, form: str) -> None:
    url = form.format(port=closed_port)
    done = run_cli(WORKER_CLI, "--redis", url, env=clean_env())
    line = _one_line_error(done, url)
    assert "<redis." not in line and len(line) < 300, line  # not redis-py's client repr


@pytest.mark.parametrize(("given", "named"), [("flag", "--dask-address"),
                                              ("variable", "FLOQ_DASK_ADDRESS")])  # fmt: skip
def test_flow_worker_with_an_unreachable_dask_scheduler_is_one_line(
    given: str, named: str, closed_port: int, redis_url: str, namespace: str
) -> None:
    """It used to end with Dask's 70-line traceback, 30 s later."""
    address = f"tcp://127.0.0.1:{closed_port}"
    env = clean_env(FLOQ_REDIS_URL=redis_url, FLOQ_NAMESPACE=namespace, FLOQ_FLOW_SLOTS="0",
                    DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="2s")  # fmt: skip
    args = ["--mode", "dask"]
    if given == "flag":
        args += ["--dask-address", address]
    else:
        env["FLOQ_DASK_ADDRESS"] = address
    done = run_cli(WORKER_CLI, *args, env=env)
    _one_line_error(done, named, f"cannot reach the Dask scheduler at {address}")


def test_a_flow_with_an_unreachable_dask_scheduler_fails_naming_it(closed_port: int) -> None:
    address = f"tcp://127.0.0.1:{closed_port}"

    @flow(task_runner=DaskTaskRunner(address=address, client_kwargs={"timeout": 2}))
    def on_dask() -> int:
        return 1

    with pytest.raises(RunnerError, match=f"cannot reach the Dask scheduler at {address}"):
        on_dask()
