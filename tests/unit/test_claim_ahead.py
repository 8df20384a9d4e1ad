"""When a concurrent-mode worker claims ahead (floq.worker.ahead): pure logic, a fake clock."""

from __future__ import annotations

import pytest

from floq.store.protocol import Claim
from floq.worker import ahead
from floq.worker.ahead import SHORT_S, TIMES, ClaimAhead


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(ahead, "time", fake)
    return fake


def claims(*ids: str) -> list[Claim]:
    return [Claim("default", i, "flow", f"task-{i}", b"") for i in ids]


def run(lane: ClaimAhead, clock: Clock, entry_id: str, seconds: float) -> None:
    lane.add(claims(entry_id))
    assert [c.entry_id for c in lane.take(1)] == [entry_id]
    clock.now += seconds
    lane.ended(entry_id)


def test_no_room_before_an_attempt_ended_even_with_a_backlog(clock: Clock) -> None:
    lane = ClaimAhead(16)
    lane.claimed(16, 16)
    assert lane.room() == 0


def test_room_while_attempts_are_short_and_claims_come_back_full(clock: Clock) -> None:
    lane = ClaimAhead(16)
    run(lane, clock, "1-0", SHORT_S / 10)
    lane.claimed(16, 16)
    assert lane.room() == TIMES * 16
    lane.claimed(32, 5)  # the queues ran dry
    assert lane.room() == 0
    lane.claimed(0, 0)
    assert lane.room() == 0


def test_no_room_once_attempts_are_long(clock: Clock) -> None:
    lane = ClaimAhead(16)
    lane.claimed(16, 16)
    run(lane, clock, "1-0", SHORT_S / 10)
    assert lane.room() == TIMES * 16
    for k in range(1, 30):  # the running mean follows the longer attempts
        run(lane, clock, f"1-{k}", SHORT_S * 4)
    assert lane.room() == 0


def test_other_modes_never_claim_ahead(clock: Clock) -> None:
    lane = ClaimAhead(0)
    lane.claimed(1, 1)
    run(lane, clock, "1-0", 0.0)
    assert lane.room() == 0


def test_waiting_claims_start_in_claim_order_and_can_be_dropped(clock: Clock) -> None:
    lane = ClaimAhead(4)
    lane.add(claims("1-1", "1-2", "1-3", "1-4"))
    assert len(lane) == 4
    dropped = lane.drop(lambda claim: claim.entry_id in {"1-2", "1-9"})
    assert [c.entry_id for c in dropped] == ["1-2"]
    assert [c.entry_id for c in lane.take(2)] == ["1-1", "1-3"]
    assert lane.take(0) == []
    assert [c.entry_id for c in lane.drop(lambda claim: True)] == ["1-4"]
    assert len(lane) == 0
