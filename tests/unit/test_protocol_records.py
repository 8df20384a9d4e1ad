"""The protocol's wire records: each decodes what it encodes; a bad one raises with its bytes."""

from __future__ import annotations

from typing import Any

import pytest

from floq import flow
from floq.errors import SerializationError
from floq.producer.jobs import encode_call
from floq.store.protocol import Claim, FlowCall, Result, Submission, Summary
from floq.store.protocol.taskruns import STOP, ResultEntry
from floq.worker.trampoline import decode_call

SECRET = b"s3cret"


@flow
def adds(a: int, b: int = 1) -> int:
    return a + b


def test_a_submission_round_trips() -> None:
    submission = Submission("t1", "fr", b"payload", ("u1", "u2"), "code", "name-1")
    assert Submission.decode("fr", submission.encode()) == submission
    alone = Submission("t2", "fr", b"p", (), "code", "name-2", code_raw=b"code bytes")
    assert alone.encode() == ("t2", b"p", "", "code", "name-2")
    assert Submission.decode("fr", alone.encode()) == Submission(
        "t2", "fr", b"p", (), "code", "name-2"
    )


def test_a_bad_submission_raises_with_its_values() -> None:
    with pytest.raises(SerializationError, match="malformed submission") as raised:
        Submission.decode("fr", ("t1", b"payload"))
    assert b"payload" in raised.value.raw


def _entry(claim: Claim) -> dict[bytes, bytes]:
    return {
        k.encode(): v if isinstance(v, bytes) else v.encode() for k, v in claim.encode().items()
    }


def test_a_claim_round_trips_through_its_queue_entry() -> None:
    claim = Claim("q", "1-0", "fr", "t1", b"payload", "code", ("u1", "u2"), attempt=3)
    assert Claim.decode("q", b"1-0", _entry(claim)) == claim
    first = Claim("q", "2-0", "fr", "t2", b"p", "code")
    assert Claim.decode("q", b"2-0", _entry(first)) == first


@pytest.mark.parametrize(
    "broken", [{"drop": "n"}, {"set": ("n", b"three")}, {"set": ("f", b"\xff")}]
)
def test_a_malformed_entry_raises_with_its_fields(broken: dict[str, Any]) -> None:
    fields = _entry(Claim("q", "1-0", "fr", "t1", b"payload", "code"))
    if "drop" in broken:
        del fields[broken["drop"].encode()]
    else:
        name, value = broken["set"]
        fields[name.encode()] = value
    with pytest.raises(SerializationError, match="malformed queue entry") as raised:
        Claim.decode("q", b"1-0", fields)
    assert b"payload" in raised.value.raw


def test_a_malformed_entry_still_names_its_run_if_it_can() -> None:
    named = Claim.named_by("q", b"1-0", {b"f": b"fr", b"t": b"t1"})
    assert named == Claim("q", "1-0", "fr", "t1", b"")
    assert Claim.named_by("q", b"1-0", {b"x": b"y"}) is None


def test_a_result_round_trips() -> None:
    summary = Summary("FAILED", "AwaitingRetry", "boom", "1.000000", "2.000000")
    result = Result(b"outcome", final=False, retry_in=2.5, summary=summary)
    values = result.encode(now=100.0)
    assert values == (b"outcome", "0", "102500", "FAILED", "AwaitingRetry", "boom", "1.000000",
                      "2.000000")  # fmt: skip
    assert Result.decode(values, now=100.0) == result
    final = Result(b"done")
    assert Result.decode(final.encode(now=5.0), now=5.0) == final


def test_a_bad_result_or_summary_raises() -> None:
    with pytest.raises(SerializationError, match="malformed attempt result") as raised:
        Result.decode((b"outcome", "1"), now=0.0)
    assert b"outcome" in raised.value.raw
    with pytest.raises(SerializationError, match="malformed outcome summary"):
        Summary.decode(("COMPLETED",))


def test_result_entries_and_the_stop_marker() -> None:
    entries = ResultEntry.decode(b"1-0", {b"o:t1": b"outcome", b"o:t2": b"other"})
    assert entries == [ResultEntry(b"1-0", "t1", b"outcome"), ResultEntry(b"1-0", "t2", b"other")]
    [stop] = ResultEntry.decode(b"2-0", {b"t": STOP})
    assert stop.task_run_id is None
    [marker] = ResultEntry.decode(b"3-0", {b"t": STOP, b"k": b"token"})  # whose marker it is
    assert (marker.task_run_id, marker.outcome) == (None, b"token")


def test_a_flow_call_round_trips() -> None:
    raw = FlowCall(adds, (1,), {"b": 2}, "q").encode(SECRET)
    call = FlowCall.decode(raw, SECRET, "run-1")
    assert (call.flow.name, call.args, call.kwargs, call.queue) == ("adds", (1,), {"b": 2}, "q")
    assert call.flow.fn(*call.args, **call.kwargs) == 3


def test_the_trampoline_keeps_its_flow_call_wire_format(monkeypatch: Any) -> None:
    monkeypatch.delenv("FLOQ_SECRET", raising=False)
    raw = encode_call(adds, (1,), {}, "default")
    flow_, args, kwargs, queue = decode_call(raw, "run-1")
    assert (flow_.name, args, kwargs, queue) == ("adds", (1,), {}, "default")
    from floq.producer.trampoline import run_flow  # every RQ job of a flow run names it
    from floq.worker import trampoline

    monkeypatch.setattr(trampoline, "run_flow", lambda payload: ("ran", payload))
    assert run_flow(raw) == ("ran", raw)  # it runs the worker's trampoline


def test_a_bad_flow_call_raises_with_its_bytes() -> None:
    with pytest.raises(SerializationError, match="cannot decode the flow call") as raised:
        FlowCall.decode(b"garbage", SECRET, "run-1")
    assert raised.value.raw == b"garbage" and raised.value.run_id == "run-1"
    from floq import serialization

    other = serialization.dumps((1, adds, (), {}, "q"), SECRET)
    with pytest.raises(SerializationError, match="another floq version") as raised:
        FlowCall.decode(other, SECRET)
    assert raised.value.raw == other
