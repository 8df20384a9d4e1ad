"""Tracebacks across processes: remote tracebacks inside encoded states, shipped source lines."""

from __future__ import annotations

import linecache
import pickle
import sys
import threading
import traceback
import types
from collections.abc import Iterator
from pathlib import Path

import cloudpickle
import pytest

from floq import serialization
from floq.errors import FloqError, RemoteError, RemoteTraceback
from floq.runners.transport import decode_outcome, encode_outcome
from floq.runs import TaskRunRecord
from floq.states import Completed, Failed, State, StateType
from floq.tracebacks import register


def _raise_here() -> None:
    raise ValueError("raised in the worker")  # marker line


def _failed(error_factory: object = _raise_here) -> State:
    try:
        error_factory()  # type: ignore[operator]
    except Exception as error:
        return Failed(error, "it failed")
    raise AssertionError("did not raise")


def _shown(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))


@pytest.mark.parametrize("by_reference", [False, True])
def test_an_encoded_state_brings_its_traceback_as_the_cause(by_reference: bool) -> None:
    raw = serialization.dumps(_failed(), by_reference=by_reference)
    state = serialization.loads(raw)
    error = state.data
    assert type(error) is ValueError and str(error) == "raised in the worker"
    assert isinstance(error.__cause__, RemoteTraceback)
    remote = str(error.__cause__)
    assert "in _raise_here" in remote
    assert 'raise ValueError("raised in the worker")  # marker line' in remote
    with pytest.raises(ValueError) as raised:
        state.result()
    shown = _shown(raised.value)
    assert shown.index("marker line") < shown.index("direct cause") < shown.index("in result")


def test_task_outcome_round_trip_keeps_the_remote_traceback() -> None:
    run = TaskRunRecord("t1", "t1", "task", "f1")
    state = _failed()
    run.adopt(state, [run.state, state], 1)
    decoded, history, _ = decode_outcome(encode_outcome(run, state))
    assert isinstance(decoded.data.__cause__, RemoteTraceback)
    assert "marker line" in str(history[-1].data.__cause__)


def test_a_state_without_traceback_gets_no_cause() -> None:
    state = pickle.loads(pickle.dumps(Failed(KeyError("k"), "no traceback here")))
    assert type(state.data) is KeyError and state.data.__cause__ is None


def test_completed_states_pickle_as_before() -> None:
    state = pickle.loads(pickle.dumps(Completed({"a": 1}, "done")))
    assert (state.type, state.name, state.message, state.data) == (
        StateType.COMPLETED, "Completed", "done", {"a": 1}
    )  # fmt: skip


@pytest.fixture
def vanishing_module(tmp_path: Path) -> Iterator[types.ModuleType]:
    """A module with an exception class, importable until the test makes it vanish."""
    (tmp_path / "vanishing_errors.py").write_text("class Vanishing(Exception):\n    pass\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import vanishing_errors

        yield vanishing_errors
    finally:
        sys.modules.pop("vanishing_errors", None)
        if str(tmp_path) in sys.path:
            sys.path.remove(str(tmp_path))


def test_an_exception_whose_type_cannot_be_rebuilt_comes_back_as_remote_error(
    vanishing_module: types.ModuleType, tmp_path: Path
) -> None:
    def raise_it() -> None:
        raise vanishing_module.Vanishing("gone with its module")

    raw = serialization.dumps(_failed(raise_it))
    sys.modules.pop("vanishing_errors")  # the receiving side cannot import it
    sys.path.remove(str(tmp_path))
    error = serialization.loads(raw).data
    assert isinstance(error, RemoteError) and isinstance(error, FloqError)
    assert error.type_name == "vanishing_errors.Vanishing"
    assert "Vanishing: gone with its module" in str(error)
    assert isinstance(error.__cause__, RemoteTraceback)
    assert "vanishing_errors.Vanishing: gone with its module" in str(error.__cause__)


def test_an_unpicklable_exception_comes_back_as_remote_error() -> None:
    class Holding(Exception):
        def __init__(self, message: str) -> None:
            super().__init__(message)
            self.lock = threading.Lock()

    def raise_it() -> None:
        raise Holding("holds a lock")

    error = serialization.loads(serialization.dumps(_failed(raise_it))).data
    assert isinstance(error, RemoteError)
    assert "Holding: holds a lock" in str(error)
    assert "in raise_it" in str(error.__cause__)


SOURCE = "def shipped(x):\n    y = x + 1\n    raise ValueError(f'shipped {y}')  # shown\n"


def _dynamic_function(filename: str) -> types.FunctionType:
    """A function whose source only linecache knows (as for a notebook cell or `python -`)."""
    namespace: dict[str, object] = {}
    exec(compile(SOURCE, filename, "exec"), namespace)
    linecache.cache[filename] = (len(SOURCE), None, SOURCE.splitlines(True), filename)
    return namespace["shipped"]  # type: ignore[return-value]


@pytest.mark.parametrize("mode", ["with_sources", "keep_filenames", "plain"])
def test_code_shipped_by_value_shows_its_lines_on_the_receiving_side(mode: str) -> None:
    filename = f"<floq-cell-{mode}>"
    options = {mode: True} if mode != "plain" else {}
    raw = serialization.dumps(_dynamic_function(filename), **options)
    del linecache.cache[filename]  # the receiving process never saw this source
    shipped = serialization.loads(raw)
    with pytest.raises(ValueError) as raised:
        shipped(1)
    shown = _shown(raised.value)
    if mode == "plain":  # cloudpickle alone: neither the file name nor the line
        assert 'File "<dynamic-code>", line 3, in shipped' in shown
    else:
        assert f'File "{filename}", line 3, in shipped' in shown
    assert ("raise ValueError(f'shipped {y}')  # shown" in shown) is (mode == "with_sources")
    linecache.cache.pop(filename, None)


def test_shipped_source_does_not_replace_a_file_the_receiver_has(tmp_path: Path) -> None:
    here = tmp_path / "module_here.py"
    here.write_text("the receiver's own line\n")
    register({str(here): ["the sender's line\n"], "<cell-x>": ["a cell line\n"]})
    try:
        assert linecache.getline(str(here), 1) == "the receiver's own line\n"
        assert linecache.getline("<cell-x>", 1) == "a cell line\n"
    finally:
        linecache.cache.pop("<cell-x>", None)


def test_only_code_travels_with_sources() -> None:
    plain = cloudpickle.dumps({"a": [1, 2]})
    assert serialization.dumps({"a": [1, 2]}, with_sources=True)[4:] == plain


def test_remote_errors_pickle_with_their_fields() -> None:
    error = RemoteError("X: y (raised remotely as m.X)", type_name="m.X", run_id="r1")
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), str(again), again.type_name, again.run_id) == (
        RemoteError, "X: y (raised remotely as m.X)", "m.X", "r1"
    )  # fmt: skip
    remote = pickle.loads(pickle.dumps(RemoteTraceback("Traceback ...\nX: y\n")))
    assert str(remote) == '\n"""\nTraceback ...\nX: y\n"""'
