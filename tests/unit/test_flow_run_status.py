"""A flow run's state from its floq record and its RQ job's status (pure logic)."""

from __future__ import annotations

import pytest

from floq.producer.jobs import describe
from floq.producer.status import reconcile
from floq.states import AwaitingRetry, Completed, Failed, Pending, Running, StateType
from floq.store.keys import rq_queue_name
from floq.store.rq_jobs import JobSerializer


def test_a_final_record_wins_over_the_job() -> None:
    done = Completed(42)
    assert reconcile(done, "failed", "r1") is done
    assert reconcile(done, None, "r1") is done


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("queued", StateType.PENDING),
        ("deferred", StateType.SCHEDULED),
        ("scheduled", StateType.SCHEDULED),
        ("started", StateType.RUNNING),
        ("stopped", StateType.CANCELLED),
        ("canceled", StateType.CANCELLED),
        ("failed", StateType.CRASHED),
    ],
)
def test_the_job_status_tells_what_a_pending_record_cannot(
    status: str, expected: StateType
) -> None:
    state = reconcile(Pending(), status, "r1")
    assert state is not None and state.type is expected


def test_a_refinement_of_the_right_type_is_kept() -> None:
    waiting = AwaitingRetry("RQ retries it")
    assert reconcile(waiting, "scheduled", "r1") is waiting
    running = Running("attempt 2")
    assert reconcile(running, "started", "r1") is running


def test_a_running_record_whose_job_failed_crashed() -> None:
    state = reconcile(Running(), "failed", "r7")
    assert state is not None and state.is_crashed() and "r7" in state.message


def test_a_record_without_its_job_crashed_and_nothing_known_is_none() -> None:
    state = reconcile(Pending(), None, "r2")
    assert state is not None and state.is_crashed() and "gone" in state.message
    assert reconcile(None, None, "r3") is None


def test_a_failed_record_stays_failed() -> None:
    failed = Failed(RuntimeError("boom"))
    assert reconcile(failed, "failed", "r1") is failed


def test_description_and_queue_names() -> None:
    assert describe("report", {"day": "2026-11-23", "n": 3}) == "report(day='2026-11-23', n=3)"
    assert len(describe("f", {"blob": "x" * 500})) < 80
    assert rq_queue_name("floq", "default") == "floq:default"


def test_job_serializer_output_reads_with_plain_pickle() -> None:
    import pickle

    value = {"a": (1, 2.5, "three")}
    assert pickle.loads(JobSerializer.dumps(value)) == value
    assert JobSerializer.loads(JobSerializer.dumps(lambda: 7))() == 7
    from floq.producer import jobs

    assert jobs.JobSerializer is JobSerializer  # rq worker -S floq.producer.jobs.JobSerializer


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6390/3",
        "redis://:s%40cret@10.0.0.5:7000/0",
        "redis://me:pw@example.internal:6379/1",
        "rediss://cache.example:6380/0",
        "unix:///tmp/valkey.sock?db=2",
    ],
)
def test_url_of_a_client_gives_back_its_url(url: str) -> None:
    import redis

    from floq.worker.trampoline import url_of

    assert url_of(redis.Redis.from_url(url)) == url  # no connection is made
