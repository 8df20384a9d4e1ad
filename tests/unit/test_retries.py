"""RetryPolicy and exponential_backoff; retries, retry conditions and jitter through tasks."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from floq import flow, task
from floq.engine.retries import RetryPolicy
from floq.errors import ConfigurationError
from floq.tasks import exponential_backoff


def test_number_applies_to_every_retry() -> None:
    policy = RetryPolicy.build(3, 1.5, None)
    assert policy.retries == 3
    assert [policy.delay(n) for n in (1, 2, 3)] == [1.5, 1.5, 1.5]


def test_zero_delay() -> None:
    policy = RetryPolicy.build(2, 0, None)
    assert [policy.delay(n) for n in (1, 2)] == [0.0, 0.0]


def test_list_last_value_repeats() -> None:
    policy = RetryPolicy.build(5, [1, 2, 5], None)
    assert [policy.delay(n) for n in range(1, 6)] == [1.0, 2.0, 5.0, 5.0, 5.0]


def test_callable_gets_the_number_of_retries() -> None:
    seen: list[int] = []

    def delays(retries: int) -> list[float]:
        seen.append(retries)
        return [0.1 * (n + 1) for n in range(retries)]

    policy = RetryPolicy.build(3, delays, None)
    assert seen == [3]
    assert [policy.delay(n) for n in (1, 2, 3)] == pytest.approx([0.1, 0.2, 0.3])


def test_callable_may_return_a_number() -> None:
    policy = RetryPolicy.build(2, lambda retries: 7, None)
    assert [policy.delay(n) for n in (1, 2)] == [7.0, 7.0]


def test_exponential_backoff_doubles() -> None:
    assert exponential_backoff(2)(4) == [2, 4, 8, 16]
    policy = RetryPolicy.build(3, exponential_backoff(2), None)
    assert [policy.delay(n) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
    # Past the list, the last delay repeats.
    assert policy.delay(4) == 8.0


def test_exponential_backoff_rejects_a_negative_factor() -> None:
    with pytest.raises(ConfigurationError, match="backoff_factor"):
        exponential_backoff(-1)


def test_exponential_backoff_on_a_task_without_retries() -> None:
    """A task may be declared with a backoff and no retries (Prefect allows it)."""
    t = task(retry_delay_seconds=exponential_backoff(2))(lambda: "ran")
    assert t() == "ran"


def test_jitter_is_applied_within_bounds() -> None:
    random.seed(1234)
    policy = RetryPolicy.build(10, 10, 0.5)
    values = [policy.delay(1) for _ in range(50)]
    assert all(5.0 <= v <= 15.0 for v in values)
    assert len(set(values)) > 40  # really random, not the base value
    assert any(v < 10 for v in values) and any(v > 10 for v in values)


def test_jitter_is_reproducible_with_a_seed() -> None:
    policy = RetryPolicy.build(3, [1, 2, 4], 0.2)
    random.seed(7)
    first = [policy.delay(n) for n in (1, 2, 3)]
    random.seed(7)
    second = [policy.delay(n) for n in (1, 2, 3)]
    assert first == second
    for value, base in zip(first, (1, 2, 4), strict=True):
        assert base * 0.8 <= value <= base * 1.2


def test_jitter_never_goes_below_zero() -> None:
    random.seed(99)
    policy = RetryPolicy.build(1, 1, 3.0)
    values = [policy.delay(1) for _ in range(100)]
    assert min(values) >= 0
    assert max(values) <= 4.0


def test_no_jitter_for_zero_delay() -> None:
    policy = RetryPolicy.build(1, 0, 1.0)
    assert policy.delay(1) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"retries": -1, "delay": 0, "jitter_factor": None}, "retries"),
        ({"retries": 1, "delay": -1, "jitter_factor": None}, "retry_delay_seconds"),
        ({"retries": 1, "delay": [1, -2], "jitter_factor": None}, "retry_delay_seconds"),
        ({"retries": 1, "delay": [], "jitter_factor": None}, "retry_delay_seconds"),
        ({"retries": 1, "delay": ["a"], "jitter_factor": None}, "retry_delay_seconds"),
        ({"retries": 1, "delay": lambda n: [-1], "jitter_factor": None}, "retry_delay_seconds"),
        ({"retries": 1, "delay": 1, "jitter_factor": -0.1}, "retry_jitter_factor"),
    ],
)
def test_bad_values_name_the_option(kwargs: dict, option: str) -> None:
    with pytest.raises(ConfigurationError, match=option) as info:
        RetryPolicy.build(**kwargs)
    assert isinstance(info.value, ValueError)


def test_bad_task_options_fail_at_decoration() -> None:
    with pytest.raises(ConfigurationError, match="retry_delay_seconds"):
        task(retries=1, retry_delay_seconds=-5)(lambda: None)
    with pytest.raises(ConfigurationError, match="retries"):
        task(retries=-2)(lambda: None)
    with pytest.raises(ConfigurationError, match="retries"):
        flow(retries=-1)(lambda: None)


def test_task_retries_until_success() -> None:
    calls: list[int] = []

    @task(retries=3)
    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ValueError("not yet")
        return "done"

    state = flaky(return_state=True)
    assert state.is_completed()
    assert state.result() == "done"
    assert len(calls) == 3


def test_task_gives_up_after_retries() -> None:
    calls: list[int] = []

    @task(retries=2)
    def always_fails() -> None:
        calls.append(1)
        raise KeyError("nope")

    with pytest.raises(KeyError):
        always_fails()
    assert len(calls) == 3


def test_retry_history_and_run_count() -> None:
    records: list = []

    @task(retries=2, on_failure=lambda t, run, s: records.append(run))
    def always_fails() -> None:
        raise ValueError("x")

    always_fails(return_state=True)
    (run,) = records
    assert run.run_count == 3
    names = [s.name for s in run.history]
    assert names == [
        "Pending",
        "Running",
        "AwaitingRetry",
        "Retrying",
        "AwaitingRetry",
        "Retrying",
        "Failed",
    ]


def test_retry_condition_false_stops_retries() -> None:
    calls: list[int] = []
    seen: list[tuple] = []

    def condition(tsk, task_run, state) -> bool:
        seen.append((tsk, task_run, state))
        return False

    @task(retries=3, retry_condition_fn=condition)
    def fails() -> None:
        calls.append(1)
        raise ValueError("do not retry me")

    state = fails(return_state=True)
    assert state.is_failed()
    assert len(calls) == 1
    assert len(seen) == 1
    tsk, task_run, failed = seen[0]
    assert tsk is fails
    assert task_run.task_name == "fails"
    assert failed.is_failed()
    assert isinstance(failed.data, ValueError)
    assert str(failed.data) == "do not retry me"


def test_retry_condition_decides_per_error() -> None:
    errors = [ConnectionError("flaky"), ConnectionError("flaky"), ValueError("bad input")]
    calls: list[int] = []

    @task(retries=5, retry_condition_fn=lambda t, r, s: isinstance(s.data, ConnectionError))
    def work() -> None:
        calls.append(1)
        raise errors[len(calls) - 1]

    with pytest.raises(ValueError, match="bad input"):
        work()
    assert len(calls) == 3


def test_raising_retry_condition_means_no_retry() -> None:
    calls: list[int] = []

    def condition(t, r, s) -> bool:
        raise RuntimeError("condition broke")

    @task(retries=2, retry_condition_fn=condition)
    def fails() -> None:
        calls.append(1)
        raise ValueError("x")

    assert fails(return_state=True).is_failed()
    assert len(calls) == 1


def test_retry_delay_is_waited(monkeypatch: pytest.MonkeyPatch) -> None:
    import floq.engine.shells as shells

    slept: list[float] = []
    # Only the engine's sleeps are recorded (and skipped); time.sleep stays as it is.
    monkeypatch.setattr(shells, "time", SimpleNamespace(sleep=slept.append))
    calls: list[int] = []

    @task(retries=3, retry_delay_seconds=[1, 2])
    def fails() -> None:
        calls.append(1)
        raise ValueError("x")

    fails(return_state=True)
    assert len(calls) == 4
    assert slept == [1.0, 2.0, 2.0]
