"""Each chaos test reports its counts in one line, and the run ends with a table of them.

``lost``: task runs accepted whose outcome never came (or ended Crashed because the data went);
``twice``: outcomes recorded more than once (must be 0); ``rerun``: extra executions (at least
once allows them); ``reused``: task runs a retried flow run did not run again; ``recover``:
seconds from the fault to work going on again."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass(frozen=True)
class Counts:
    scenario: str
    tasks: int
    lost: int = 0
    twice: int = 0
    rerun: int = 0
    reused: int = 0
    recover: float | None = None

    @classmethod
    def of(cls, scenario: str, tasks: int, recorded: Iterable[int], **more: Any) -> Counts:
        """The counts of ``tasks`` task runs given how many outcomes each has recorded
        (``recorded``: one number per task run that has any, zeros allowed)."""
        counts = list(recorded)
        lost = tasks - sum(1 for n in counts if n > 0)
        return cls(scenario, tasks, lost=lost, twice=sum(1 for n in counts if n > 1), **more)

    def line(self) -> str:
        recover = "-" if self.recover is None else f"{self.recover:.1f} s"
        return (f"{self.scenario:<50} {self.tasks:>6} {self.lost:>5} {self.twice:>6} "
                f"{self.rerun:>6} {self.reused:>7} {recover:>9}")  # fmt: skip


HEADER = (
    f"{'scenario':<50} {'tasks':>6} {'lost':>5} {'twice':>6} {'rerun':>6} {'reused':>7} "
    f"{'recover':>9}"
)
REPORTED: list[Counts] = []


def report(counts: Counts) -> None:
    """Print the line now and keep it for the table at the end of the run."""
    REPORTED.append(counts)
    print(f"\nchaos: {HEADER}\nchaos: {counts.line()}")


def summary(reporter: pytest.TerminalReporter) -> None:
    if REPORTED:
        reporter.section("chaos counts")
        reporter.write_line(HEADER)
        for counts in REPORTED:
            reporter.write_line(counts.line())
