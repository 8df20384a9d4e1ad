"""The cloudpickle envelope: round trips, signatures, and clear errors."""

from __future__ import annotations

import threading

import pytest

from floq import serialization
from floq.errors import FloqError, SerializationError

SECRET = b"s3cret-key"


def test_round_trip_of_plain_data() -> None:
    value = {"a": [1, 2.5, "x", None], "b": (b"bytes", {3})}
    raw = serialization.dumps(value)
    assert raw.startswith(serialization.MAGIC)
    assert serialization.loads(raw) == value


def test_round_trip_of_a_closure() -> None:
    factor = 3

    def scale(x: int) -> int:
        return x * factor

    restored = serialization.loads(serialization.dumps(scale))
    assert restored(5) == 15


def test_round_trip_of_an_exception() -> None:
    error = FloqError("boom", run_id="r1")
    restored = serialization.loads(serialization.dumps(error))
    assert type(restored) is FloqError
    assert restored.message == "boom"
    assert restored.run_id == "r1"


def test_signed_round_trip() -> None:
    raw = serialization.dumps([1, 2, 3], SECRET)
    assert serialization.loads(raw, SECRET) == [1, 2, 3]
    assert raw != serialization.dumps([1, 2, 3])


def test_unsigned_payload_refused_when_a_secret_is_set() -> None:
    raw = serialization.dumps("hello")
    with pytest.raises(SerializationError, match="not signed") as info:
        serialization.loads(raw, SECRET)
    assert info.value.raw == raw


def test_wrong_secret_refused() -> None:
    raw = serialization.dumps("hello", SECRET)
    with pytest.raises(SerializationError, match="different FLOQ_SECRET than this process"):
        serialization.loads(raw, b"another-secret")


def test_forged_body_refused() -> None:
    raw = serialization.dumps({"cmd": "safe"}, SECRET)
    header_and_mac = raw[: 4 + 32]
    forged = header_and_mac + serialization.dumps({"cmd": "evil"})[4:]
    with pytest.raises(SerializationError, match="different FLOQ_SECRET") as info:
        serialization.loads(forged, SECRET)
    assert info.value.raw == forged


def test_flipped_bit_in_signed_payload_refused() -> None:
    raw = bytearray(serialization.dumps("data", SECRET))
    raw[-1] ^= 0x01
    with pytest.raises(SerializationError, match="different FLOQ_SECRET than this process"):
        serialization.loads(bytes(raw), SECRET)


@pytest.mark.parametrize("garbage", [b"", b"xy", b"not a floq payload at all", b"\x80\x04K\x01."])
def test_garbage_keeps_raw_and_gives_a_reason(garbage: bytes) -> None:
    with pytest.raises(SerializationError) as info:
        serialization.loads(garbage)
    assert info.value.raw == garbage
    assert "magic" in str(info.value)


def test_unknown_version() -> None:
    raw = serialization.MAGIC + bytes((99, 0)) + b"body"
    with pytest.raises(SerializationError, match="version 99") as info:
        serialization.loads(raw)
    assert info.value.raw == raw


def test_corrupt_body_gives_the_decoding_reason() -> None:
    raw = serialization.dumps(list(range(100)))[:-10]
    with pytest.raises(SerializationError, match="cannot deserialize") as info:
        serialization.loads(raw)
    assert info.value.raw == raw
    assert isinstance(info.value.__cause__, Exception)


def test_unpicklable_object_names_what() -> None:
    with pytest.raises(SerializationError, match="the call of task 'x'") as info:
        serialization.dumps(threading.Lock(), what="the call of task 'x'")
    assert "lock" in str(info.value).lower()


def test_rotation_the_first_secret_signs_and_any_verifies() -> None:
    old, new = b"old-secret", b"new-secret"
    by_old = serialization.dumps("x", old)
    step1 = serialization.dumps("x", b"old-secret, new-secret")  # signs with old
    step2 = serialization.dumps("x", b"new-secret,old-secret")  # signs with new
    assert step1 == by_old and serialization.loads(step2, new) == "x"
    for value in (b"old-secret,new-secret", b"new-secret,old-secret"):
        assert serialization.loads(by_old, value) == serialization.loads(step2, value) == "x"
    with pytest.raises(SerializationError, match=r"2 secret\(s\) tried"):
        serialization.loads(serialization.dumps("x", b"third"), b"new-secret,old-secret")
