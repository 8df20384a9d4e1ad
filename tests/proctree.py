"""Process trees, read from /proc: what a test started, and whether it has all ended."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children of any of its threads)."""
    found: set[int] = set()
    try:
        threads = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:  # it ended meanwhile (a work horse done with its job, say)
        return found
    for thread in threads:
        try:
            children = (thread / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found |= {child, *descendants(child)}
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
    except OSError:
        return "?"


def assert_all_end(pids: set[int], timeout: float, what: str) -> None:
    """Wait until none of ``pids`` runs; fail naming those left."""
    deadline = time.monotonic() + timeout
    while any(map(alive, pids)):
        if time.monotonic() > deadline:
            left = {pid: cmdline(pid) for pid in pids if alive(pid)}
            raise AssertionError(f"{what}: still running after {timeout} s: {left}")
        time.sleep(0.05)


def terminate_all(processes: list[subprocess.Popen[bytes]], grace: float = 15) -> None:
    """SIGTERM each process still running, then wait for all; SIGKILL one that takes longer
    than ``grace`` seconds."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
