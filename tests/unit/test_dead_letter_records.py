"""Dead-letter records decode from raw stream fields; their ids name queue and stream id."""

from __future__ import annotations

import pytest

from floq.errors import FloqError, SerializationError
from floq.store.protocol import DeadLetter
from floq.store.protocol.dead_letters import split_id


def test_a_letter_of_a_run_decodes() -> None:
    fields = {b"f": b"fr-1", b"t": b"tr-1", b"entry": b"5-0", b"reason": b"bad", b"payload": b"x"}
    letter = DeadLetter.decode("a/b", b"1700000000123-4", fields)
    assert letter.id == "a/b/1700000000123-4" and split_id(letter.id) == ("a/b", letter.stream_id)
    assert (letter.flow_run_id, letter.task_run_id, letter.payload) == ("fr-1", "tr-1", b"x")
    assert letter.at == 1700000000.123
    assert letter.to_dict()["payload_bytes"] == 1 and letter.to_dict()["raw"] is None


def test_a_malformed_letter_raises_with_its_raw_fields() -> None:
    with pytest.raises(SerializationError) as caught:
        DeadLetter.decode("q", b"1-1", {b"reason": b"\xff"})
    assert caught.value.raw == repr({b"reason": b"\xff"}).encode()
    assert "q/1-1" in str(caught.value)
    shown = DeadLetter.unreadable("q", b"1-1", caught.value)  # what a listing shows instead
    assert shown.id == "q/1-1" and shown.reason.startswith("unreadable dead letter: malformed")
    assert shown.raw == caught.value.raw


def test_a_letter_without_its_entry_id_still_decodes() -> None:
    assert DeadLetter.decode("q", b"1-1", {b"reason": b"test"}).entry_id == ""


@pytest.mark.parametrize("bad", ["", "q", "1-1", "q/", "q/x-1", "/1-1"])
def test_a_bad_id_is_named(bad: str) -> None:
    with pytest.raises(FloqError, match="not a dead letter id"):
        split_id(bad)
