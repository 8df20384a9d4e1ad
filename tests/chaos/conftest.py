"""The chaos suite: faults injected into real servers and real workers (see each module).

The integration fixtures apply here too (``workers``, ``namespace``, ...)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))

import chaos_report
from integration_fixtures import *  # noqa: F403

from netns import hosts  # noqa: F401  (network-namespace hosts, a fixture)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    chaos_report.summary(terminalreporter)
