"""floq.engine.inputs: finding futures inside arguments and replacing them by values."""

from __future__ import annotations

import dataclasses
from collections import namedtuple
from typing import Any

import pytest

from floq import allow_failure, unmapped
from floq.engine.inputs import NotReadyError, collect_upstream, resolve, walk
from floq.futures import TaskFuture, UpstreamRef
from floq.runs import TaskRunRecord
from floq.states import Completed, Crashed, Failed, State

Point = namedtuple("Point", ["x", "y"])


@dataclasses.dataclass
class Box:
    item: Any
    label: str = "box"
    derived: Any = dataclasses.field(default=None, init=False)


@dataclasses.dataclass(frozen=True)
class FrozenBox:
    item: Any


def future(run_id: str, state: State | None = None) -> TaskFuture[Any]:
    fut: TaskFuture[Any] = TaskFuture(TaskRunRecord(run_id, f"run-{run_id}", "t"))
    if state is not None:
        fut.task_run.state = state
        fut.finish(state)
    return fut


def as_upstream(*futures: TaskFuture[Any]) -> dict[str, State]:
    return {f.task_run_id: f.state for f in futures}


# --- walk ------------------------------------------------------------------------------


def test_walk_replaces_futures_at_any_depth() -> None:
    a, b = future("a"), future("b")
    expr = {"k": [1, (a, "s")], "n": Point(b, 2)}
    out = walk(expr, lambda item, allowed: f"<{item.task_run_id}>")
    assert out == {"k": [1, ("<a>", "s")], "n": Point("<b>", 2)}
    assert isinstance(out["n"], Point)


def test_walk_reports_allow_failure_to_the_leaf() -> None:
    a, b = future("a"), future("b")
    seen: dict[str, bool] = {}

    def leaf(item: Any, allowed: bool) -> Any:
        seen[item.task_run_id] = allowed
        return item.task_run_id

    out = walk([a, allow_failure([b])], leaf)
    assert out == ["a", ["b"]]
    assert seen == {"a": False, "b": True}


def test_walk_unwraps_unmapped() -> None:
    a = future("a")
    assert walk(unmapped([a, 1]), lambda item, allowed: "v") == ["v", 1]


def test_walk_leaves_atoms_and_unknown_objects_alone() -> None:
    marker = object()
    for value in (1, 2.5, "s", b"b", None, True, 1j, marker):
        assert walk(value, lambda item, allowed: pytest.fail("no leaf expected")) is value


def test_walk_treats_states_and_refs_as_leaves() -> None:
    ref = UpstreamRef("r")
    state = Completed(3)
    got = walk([ref, state], lambda item, allowed: type(item).__name__)
    assert got == ["UpstreamRef", "State"]


@pytest.mark.parametrize(
    "value",
    [
        [1, [2, 3], "x"],
        (1, (2, 3)),
        Point(1, 2),
        {1, 2, 3},
        frozenset({1, 2}),
        {"a": [1], "b": {"c": 2}},
        Box([1, 2]),
        FrozenBox((1,)),
    ],
    ids=lambda v: type(v).__name__,
)
def test_unchanged_collections_keep_identity(value: Any) -> None:
    assert walk(value, lambda item, allowed: item) is value


def test_unchanged_inner_collections_keep_identity() -> None:
    inner = [1, 2]
    a = future("a")
    out = walk({"static": inner, "dynamic": [a]}, lambda item, allowed: 9)
    assert out["dynamic"] == [9]
    assert out["static"] is inner


def test_a_changed_collection_is_a_copy() -> None:
    a = future("a")
    original = [a, 1]
    out = walk(original, lambda item, allowed: "v")
    assert out == ["v", 1]
    assert out is not original
    assert original[0] is a  # the input is never mutated


# --- collect_upstream ------------------------------------------------------------------


def test_collect_upstream_finds_futures_in_every_collection() -> None:
    futures = {name: future(name) for name in "abcdefgh"}
    f = futures
    args = ([f["a"], (f["b"],)], Point(f["c"], 1), {f["d"]}, frozenset({f["e"]}))
    kwargs = {"box": Box(f["f"]), "nested": {"deep": {"deeper": [f["g"]]}}}
    wait_for = (allow_failure(f["h"]),)
    found, needs_resolving = collect_upstream(args, kwargs, wait_for)
    assert set(found) == set("abcdefgh")
    assert all(found[k] is v for k, v in futures.items())
    assert needs_resolving is True


def test_collect_upstream_counts_duplicates_once() -> None:
    a = future("a")
    found, _ = collect_upstream((a, [a]), {"again": a}, (a,))
    assert list(found) == ["a"]
    assert found["a"] is a


def test_collect_upstream_includes_refs_but_not_plain_states() -> None:
    ref = UpstreamRef("from-elsewhere")
    found, needs_resolving = collect_upstream((ref,), {"s": Completed(1)}, ())
    assert found == {"from-elsewhere": ref}
    assert needs_resolving is True


def test_collect_upstream_plain_state_still_needs_resolving() -> None:
    found, needs_resolving = collect_upstream(([Completed(1)],), {}, ())
    assert found == {}
    assert needs_resolving is True


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((1, "x"), {}), ((1,), {"k": [2, (3,)]}), ((), {}), (([1, {2}],), {"d": {"e": None}})],
)
def test_collect_upstream_of_nothing(args: tuple, kwargs: dict) -> None:
    assert collect_upstream(args, kwargs, ()) == ({}, False)


# --- resolve ---------------------------------------------------------------------------


def test_resolve_nested_values() -> None:
    a, b, c, d = (future(n, Completed(v)) for n, v in zip("abcd", (1, 2, 3, 4), strict=True))
    expr = {
        "list": [a, [b]],
        "tuple": (c, "x"),
        "named": Point(a, b),
        "set": {c, 5},
        "frozen": frozenset({d}),
        "box": Box(item=[d]),
        "frozen_box": FrozenBox(a),
    }
    out = resolve(expr, as_upstream(a, b, c, d))
    assert out == {
        "list": [1, [2]],
        "tuple": (3, "x"),
        "named": Point(1, 2),
        "set": {3, 5},
        "frozen": frozenset({4}),
        "box": Box(item=[4]),
        "frozen_box": FrozenBox(1),
    }
    assert type(out["named"]) is Point
    assert type(out["frozen"]) is frozenset
    assert expr["box"].item == [d]  # the original dataclass is untouched


def test_resolve_dataclass_field_that_is_not_in_init() -> None:
    a = future("a", Completed("value"))
    box = Box(item=1)
    box.derived = a
    out = resolve(box, as_upstream(a))
    assert out is not box
    assert out.derived == "value"
    assert out.item == 1
    assert box.derived is a


def test_resolve_refs_by_run_id() -> None:
    upstream = {"r1": Completed(10)}
    assert resolve([UpstreamRef("r1"), UpstreamRef("r1")], upstream) == [10, 10]


def test_resolve_plain_states() -> None:
    assert resolve({"s": Completed("v")}, {}) == {"s": "v"}


def test_resolve_unchanged_expression_keeps_identity() -> None:
    expr = {"a": [1, 2], "b": Point(1, 2)}
    assert resolve(expr, {}) is expr


def test_resolve_failed_upstream_raises_not_ready() -> None:
    error = ValueError("upstream broke")
    a = future("a", Failed(error, "failed"))
    with pytest.raises(NotReadyError) as info:
        resolve([1, {"k": a}], as_upstream(a))
    assert info.value.upstream_id == "a"
    assert info.value.state is a.state


def test_resolve_crashed_upstream_raises_not_ready() -> None:
    a = future("a", Crashed(message="lost"))
    with pytest.raises(NotReadyError):
        resolve(a, as_upstream(a))


def test_resolve_failed_plain_state_raises_not_ready() -> None:
    with pytest.raises(NotReadyError) as info:
        resolve([Failed(ValueError("x"))], {})
    assert info.value.upstream_id == "<state>"


def test_allow_failure_gives_the_exception() -> None:
    error = ValueError("upstream broke")
    a = future("a", Failed(error, "failed"))
    b = future("b", Completed(2))
    out = resolve(allow_failure([a, b]), as_upstream(a, b))
    assert out[0] is error
    assert out[1] == 2


def test_allow_failure_on_a_crash_gives_a_crash_error() -> None:
    from floq.errors import CrashedRunError

    a = future("a", Crashed(message="worker lost"))
    out = resolve({"x": allow_failure(a)}, as_upstream(a))
    assert isinstance(out["x"], CrashedRunError)
    assert "worker lost" in str(out["x"])


def test_allow_failure_does_not_cover_siblings() -> None:
    a = future("a", Failed(ValueError("x")))
    b = future("b", Failed(ValueError("y")))
    with pytest.raises(NotReadyError) as info:
        resolve([allow_failure(a), b], as_upstream(a, b))
    assert info.value.upstream_id == "b"
