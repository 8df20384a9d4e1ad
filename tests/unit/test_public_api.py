"""The public names are part of the contract (DESIGN.md, "Public API")."""

from __future__ import annotations

import floq
import floq.runners

EXPECTED_FLOQ_ALL = [
    "FloqError",
    "Flow",
    "State",
    "StateType",
    "Task",
    "TaskFuture",
    "allow_failure",
    "as_completed",
    "flow",
    "get_run_logger",
    "task",
    "unmapped",
    "wait",
]

EXPECTED_RUNNERS_ALL = [
    "ConcurrentTaskRunner",
    "DaskTaskRunner",
    "ProcessPoolTaskRunner",
    "RedisTaskRunner",
    "SequentialTaskRunner",
    "TaskRunner",
    "ThreadPoolTaskRunner",
]


def test_floq_all_is_sorted() -> None:
    assert floq.__all__ == sorted(floq.__all__)


def test_floq_all_is_pinned() -> None:
    assert floq.__all__ == EXPECTED_FLOQ_ALL


def test_every_public_name_exists() -> None:
    for name in floq.__all__:
        assert getattr(floq, name) is not None, name
    for name in floq.runners.__all__:
        assert getattr(floq.runners, name) is not None, name


def test_contract_imports() -> None:
    from floq import (  # noqa: F401
        allow_failure,
        as_completed,
        flow,
        get_run_logger,
        task,
        unmapped,
        wait,
    )
    from floq.states import (  # noqa: F401
        Cancelled,
        Completed,
        Crashed,
        Failed,
        Pending,
        Running,
        Scheduled,
        State,
        StateType,
    )
    from floq.tasks import exponential_backoff

    assert callable(exponential_backoff)


def test_runners_all_is_sorted_and_pinned() -> None:
    assert floq.runners.__all__ == sorted(floq.runners.__all__)
    assert floq.runners.__all__ == EXPECTED_RUNNERS_ALL


def test_thread_pool_runner_is_the_concurrent_runner() -> None:
    from floq.runners import ConcurrentTaskRunner, ThreadPoolTaskRunner

    assert ThreadPoolTaskRunner is ConcurrentTaskRunner


def test_local_runners_are_task_runners() -> None:
    from floq.runners import (
        ConcurrentTaskRunner,
        DaskTaskRunner,
        ProcessPoolTaskRunner,
        SequentialTaskRunner,
        TaskRunner,
    )

    for runner in (
        ConcurrentTaskRunner,
        DaskTaskRunner,
        ProcessPoolTaskRunner,
        SequentialTaskRunner,
    ):
        assert issubclass(runner, TaskRunner)


def test_state_type_members() -> None:
    from floq.states import StateType

    assert [t.value for t in StateType] == [
        "PENDING",
        "SCHEDULED",
        "RUNNING",
        "COMPLETED",
        "FAILED",
        "CRASHED",
        "CANCELLED",
    ]


def test_version() -> None:
    assert isinstance(floq.__version__, str)
    assert floq.__version__.count(".") >= 1


def test_import_floq_leaves_the_distributed_path_unloaded() -> None:
    """Flows that run here need no Redis client: ``import floq`` imports neither redis nor rq."""
    import subprocess
    import sys

    code = "import sys, floq, floq.runners; print(sorted({'redis', 'rq'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
